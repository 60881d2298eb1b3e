"""Where the snapshot's groups come from: one module per source.

- host: this machine and process (psutil)
- application: the bot's operations per endpoint category, from the SDK's own histograms
- business: readings, payments and revenue, from the business counters
- postgres: server statistics over SQL (pg_stat_*)
- redis: the server's INFO
"""
