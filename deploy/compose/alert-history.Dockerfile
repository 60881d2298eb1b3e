# The alert history (tarot-monitor alerts serve): Alertmanager's webhook receiver storing every
# notification in PostgreSQL. Built by docker-compose.yml from the repository root; the build
# context is limited to pyproject.toml, README.md and src/ by alert-history.Dockerfile.dockerignore.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The asyncpg extra is what the alert history's store needs; nothing else of the bot's extras.
RUN pip install ".[asyncpg]" && rm -rf /src

RUN groupadd --system --gid 10001 tarot \
    && useradd --system --uid 10001 --gid tarot --no-create-home --shell /usr/sbin/nologin tarot
USER 10001:10001
WORKDIR /

EXPOSE 9097
# docker-compose.yml gives the full command (DSN, listen address, secrets).
CMD ["tarot-monitor", "alerts", "serve", "--help"]
