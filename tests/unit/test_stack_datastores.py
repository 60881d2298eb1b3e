"""The native stack with the bot's datastores: overlays added, the exporter a program of its own,
secrets only in the spawned programs' environment (no process is started here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tarot_monitoring.secret_files import write_secret_file
from tarot_monitoring.stack import Datastores, Stack, StackError, StackPorts
from tarot_monitoring.stack.launcher import COMPONENTS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "pw-not-in-argv"


@pytest.fixture
def dsn_file(tmp_path: Path) -> Path:
    return write_secret_file(tmp_path / "dsn", f"postgresql://monitor:{SECRET}@db:5432/tarot?sslmode=disable")


def _stack(tmp_path: Path, datastores: Datastores) -> Stack:
    stack = Stack(state_dir=tmp_path / "state", repo_root=ROOT, ports=StackPorts(), datastores=datastores)
    stack._binaries = {
        "collector": "/bin/otelcol",
        "prometheus": "/bin/prometheus",
        "alertmanager": "/bin/alertmanager",
        "postgres-exporter": "/bin/exporter",
    }
    return stack


def test_nothing_configured_is_the_stack_of_before(tmp_path: Path) -> None:
    stack = _stack(tmp_path, Datastores())
    assert stack._components() == ("alertmanager", "prometheus", "collector")
    assert [path.name for path in stack.collector_overlays] == ["local.yaml"]


def test_a_dsn_and_a_redis_address_add_overlays_and_the_exporter(tmp_path: Path, dsn_file: Path) -> None:
    password = write_secret_file(tmp_path / "redis-password", "redis-secret")
    stack = _stack(
        tmp_path,
        Datastores(postgres_dsn_file=dsn_file, redis_addr="cache:6379", redis_password_file=password),
    )
    # One replica, no alert history.
    assert stack._components() == tuple(c for c in COMPONENTS if c not in ("alertmanager-2", "alert-history"))
    assert [path.name for path in stack.collector_overlays] == [
        "local.yaml",
        "datastores-redis.yaml",
        "datastores-postgres.yaml",
    ]
    exporter = stack.process("postgres-exporter")
    assert exporter.env == {"DATA_SOURCE_NAME": dsn_file.read_text().strip()}
    assert SECRET not in " ".join(exporter.argv)
    assert f"--extend.query-path={ROOT / 'otel-collector/config/postgres-queries.yaml'}" in exporter.argv
    assert "--web.listen-address=127.0.0.1:9187" in exporter.argv
    collector = stack.process("collector")
    assert collector.env["TAROT_REDIS_ADDR"] == "cache:6379"
    assert collector.env["TAROT_REDIS_PASSWORD"] == "redis-secret"
    assert collector.env["TAROT_POSTGRES_EXPORTER_ADDR"] == "127.0.0.1:9187"
    assert "redis-secret" not in " ".join(collector.argv)
    stack.state_dir.mkdir(parents=True)
    stack._write_state()
    state = (stack.state_dir / "stack.json").read_text()
    assert SECRET not in state
    assert "redis-secret" not in state
    loaded = Stack.load(stack.state_dir)
    assert loaded.datastores == stack.datastores
    assert loaded.collector_overlays == stack.collector_overlays  # each overlay once after a reload
    assert json.loads(state)["datastores"]["redis_addr"] == "cache:6379"


def test_bad_datastore_settings_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="host:port"):
        Datastores(redis_addr="redis://:secret@cache:6379/0")
    with pytest.raises(StackError, match="needs a Redis address"):
        Datastores(redis_password_file=tmp_path / "pw")
    stack = _stack(tmp_path, Datastores(postgres_dsn_file=tmp_path / "missing"))
    with pytest.raises(StackError, match=r"^PostgreSQL DSN file .*/missing does not exist$"):
        stack.process("postgres-exporter")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_dsn_file_others_may_read_stops_up_before_anything_starts(
    tmp_path: Path, dsn_file: Path, mode: int
) -> None:
    """The DSN holds the exporter's database password: like ssh with a private key, a file the group
    or everyone may read is refused, with the file and the fix named and the secret never shown."""
    dsn_file.chmod(mode)
    stack = _stack(tmp_path, Datastores(postgres_dsn_file=dsn_file))
    expected = (
        f"PostgreSQL DSN file {dsn_file} is accessible by group or others (mode {mode:04o}); "
        f"make it private: chmod 600 {dsn_file}"
    )
    for attempt in (stack.start, lambda: stack.process("postgres-exporter")):
        with pytest.raises(StackError) as caught:
            attempt()
        assert str(caught.value) == expected
        assert SECRET not in str(caught.value)
    assert not (stack.state_dir / "run").exists()  # nothing was started
    dsn_file.chmod(0o600)
    assert stack.process("postgres-exporter").env["DATA_SOURCE_NAME"].endswith("sslmode=disable")


def test_an_open_or_empty_redis_password_file_is_refused_by_name(tmp_path: Path) -> None:
    password = write_secret_file(tmp_path / "redis-password", "redis-secret")
    password.chmod(0o644)
    datastores = Datastores(redis_addr="cache:6379", redis_password_file=password)
    with pytest.raises(StackError, match=r"Redis password file .* chmod 600 "):
        datastores.check_secrets()
    password.chmod(0o600)
    password.write_text("\n")
    with pytest.raises(StackError, match=r"^Redis password file .* is empty$"):
        datastores.check_secrets()


def test_the_environment_configures_the_cli(dsn_file: Path) -> None:
    found = Datastores.from_environment(
        {"TAROT_POSTGRES_DSN_FILE": str(dsn_file), "TAROT_REDIS_ADDR": "127.0.0.1:6379"}
    )
    assert found == Datastores(postgres_dsn_file=dsn_file, redis_addr="127.0.0.1:6379")
    assert Datastores.from_environment({}).configured is False
