"""Parts of bench/soak.py: the OTLP black-hole proxy, a private PostgreSQL, the span generator and
the accounting that counts every signal end to end."""
