"""docker-compose.yml and the configs it mounts, checked without a Docker engine (these machines have
none): every mounted file exists, images are pinned to the versions the repository builds elsewhere,
retention equals tarot_monitoring.spec, every published port binds 127.0.0.1, no secret is inline,
and the addresses the services use to reach each other agree across the files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render.alertmanager import AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.scrubbing import Scrubber
from tarot_monitoring.spec import LOGS_RETENTION, METRICS_RETENTION
from tarot_monitoring.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
LOKI_FILE = ROOT / "deploy" / "loki" / "loki.yaml"
TEMPO_FILE = ROOT / "deploy" / "tempo" / "tempo.yaml"
DATASOURCES_FILE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
COMPOSE_DATASOURCES = ROOT / "deploy" / "compose" / "grafana-datasources.yaml"
COMPOSE_PROMETHEUS = ROOT / "deploy" / "compose" / "prometheus.yml"
COMPOSE_ALERTMANAGER = ROOT / "deploy" / "compose" / "alertmanager.yml"
COLLECTOR_OVERLAY = ROOT / "otel-collector" / "config" / "compose.yaml"

# The spec's storage table has no row for traces: Tempo keeps them as long as the metrics, so an
# exemplar or an alert from the whole metric window still opens its trace (deploy/tempo/tempo.yaml).
TRACES_RETENTION = METRICS_RETENTION

# The secrets compose passes as files, and the settings the compose Alertmanager config is made with.
SECRETS_DIR = "/run/secrets"
COMPOSE_ALERTMANAGER_SETTINGS = AlertmanagerSettings(
    bot_token_file=f"{SECRETS_DIR}/telegram-bot-token",
    chat_id_file=f"{SECRETS_DIR}/telegram-chat-id",
    history_url="http://alert-history:9097",
    history_token_file=f"{SECRETS_DIR}/alert-history-token",
    pager_url_file=f"{SECRETS_DIR}/pager-url",
)
ONE_SHOT = {"collector-storage-init", "receiver-secrets-check"}


# --- the files ----------------------------------------------------------------------------------


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = read(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert set(found) == {
        "collector-storage-init", "otel-collector", "prometheus", "alertmanager", "tempo", "loki",
        "grafana", "postgres", "alert-history", "receiver-secrets-check",
    }  # fmt: skip
    return dict(found)


@pytest.fixture(scope="module")
def loki() -> dict[str, Any]:
    return dict(read(LOKI_FILE))


@pytest.fixture(scope="module")
def tempo() -> dict[str, Any]:
    return dict(read(TEMPO_FILE))


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict[str, Any]]:
    document = read(COMPOSE_DATASOURCES)
    assert document["apiVersion"] == 1
    return {source["uid"]: source for source in document["datasources"]}


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(repository path, container path) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts.append((ROOT / source[2:], PurePosixPath(target)))
    return mounts


def in_repository(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file a path inside the container comes from, None when none is mounted there."""
    path = PurePosixPath(container_path)
    for source, target in bind_mounts(service):
        if path == target:
            return source
        if target in path.parents:
            return source / path.relative_to(target)
    return None


def image_tag(service: dict[str, Any]) -> str:
    name, _, tag = str(service["image"]).rpartition(":")
    assert name, f"{service['image']} has no tag"
    assert "/" not in tag, f"{service['image']} has no tag"
    return tag


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    parts = [command] if isinstance(command, str) else command
    return [word for part in parts for word in str(part).split()]


# --- mounted files ------------------------------------------------------------------------------


def test_every_bind_mounted_file_exists(services: dict[str, dict[str, Any]]) -> None:
    mounts = [(name, source) for name, service in services.items() for source, _ in bind_mounts(service)]
    assert len(mounts) == 9
    missing = [f"{name}: {source.relative_to(ROOT)}" for name, source in mounts if not source.exists()]
    assert missing == []


def test_config_files_named_in_commands_come_from_the_repository(services: dict[str, dict[str, Any]]) -> None:
    resolved = {}
    for name, service in services.items():
        for word in command_words(service):
            for path in re.findall(r"(/etc/[\w./-]+)", word):
                source = in_repository(service, path)
                assert source is not None, f"{name}: {path} is not mounted from the repository"
                assert source.is_file(), f"{name}: {path} -> {source} does not exist"
                resolved[(name, path)] = source.relative_to(ROOT).as_posix()
    assert resolved == {
        ("otel-collector", "/etc/otelcol/base.yaml"): "otel-collector/config/base.yaml",
        ("otel-collector", "/etc/otelcol/compose.yaml"): "otel-collector/config/compose.yaml",
        ("prometheus", "/etc/prometheus/prometheus.yml"): "deploy/compose/prometheus.yml",
        ("alertmanager", "/etc/alertmanager/alertmanager.yml"): "deploy/compose/alertmanager.yml",
        ("tempo", "/etc/tempo/tempo.yaml"): "deploy/tempo/tempo.yaml",
        ("loki", "/etc/loki/loki.yaml"): "deploy/loki/loki.yaml",
    }


def test_prometheus_loads_the_repository_rules(services: dict[str, dict[str, Any]]) -> None:
    config = read(COMPOSE_PROMETHEUS)
    assert config["rule_files"] == ["rules/*.yml"]  # relative to /etc/prometheus/prometheus.yml
    rules = in_repository(services["prometheus"], "/etc/prometheus/rules")
    assert rules == ROOT / "deploy" / "prometheus" / "rules"
    assert len(list(rules.glob("*.yml"))) == len(rule_files())


def test_grafana_provisioning_and_the_alert_history_build_exist(services: dict[str, dict[str, Any]]) -> None:
    provisioning = in_repository(
        services["grafana"], "/etc/grafana/provisioning/datasources/datasources.yaml"
    )
    assert provisioning == COMPOSE_DATASOURCES
    build = services["alert-history"]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file()
    assert Path(f"{dockerfile}.dockerignore").is_file()  # BuildKit's per-Dockerfile ignore file
    copied = re.findall(r"^COPY (.+) \S+$", dockerfile.read_text(), re.M)
    assert [word for line in copied for word in line.split()] == ["pyproject.toml", "README.md", "src"]


# --- versions -----------------------------------------------------------------------------------


def test_collector_image_is_the_release_of_the_ocb_manifest(services: dict[str, dict[str, Any]]) -> None:
    manifest = (ROOT / "otel-collector" / "builder-config.yaml").read_text()
    versions = set(
        re.findall(r"gomod: github\.com/open-telemetry/opentelemetry-collector-contrib/\S+ v(\S+)", manifest)
    )
    assert len(versions) == 1, versions
    assert services["otel-collector"]["image"] == f"otel/opentelemetry-collector-contrib:{versions.pop()}"


def test_alertmanager_image_is_the_version_build_sh_builds(services: dict[str, dict[str, Any]]) -> None:
    build = (ROOT / "deploy" / "alertmanager" / "build.sh").read_text()
    found = re.search(r'^AM_VERSION="(v[\d.]+)"', build, re.M)
    assert found is not None
    assert services["alertmanager"]["image"] == f"prom/alertmanager:{found.group(1)}"


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    tags = {name: image_tag(service) for name, service in services.items()}
    assert all(tag != "latest" for tag in tags.values()), tags
    # Exact releases for the stack's programs; major versions for the base images.
    for name in (
        "otel-collector",
        "prometheus",
        "alertmanager",
        "tempo",
        "loki",
        "grafana",
        "collector-storage-init",
    ):
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tags[name]), f"{name}: {tags[name]}"
    assert tags["loki"].startswith("3.")
    assert tags["prometheus"].startswith("v3.")
    assert re.fullmatch(r"\d+", tags["postgres"])
    dockerfile = (ROOT / "deploy" / "compose" / "alert-history.Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim"]


# --- retention ----------------------------------------------------------------------------------


def test_the_native_stacks_prometheus_keeps_metrics_for_the_spec_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("TAROT_OTELCOL_BIN", "TAROT_PROMETHEUS_BIN", "TAROT_ALERTMANAGER_BIN"):
        monkeypatch.setenv(variable, "/bin/true")  # no build: only the command line is read
    words = Stack(state_dir=tmp_path, repo_root=ROOT)._argv("prometheus")
    retention = [word for word in words if word.startswith("--storage.tsdb.retention.time=")]
    assert retention == [f"--storage.tsdb.retention.time={METRICS_RETENTION.prometheus_duration}"]


def test_prometheus_keeps_metrics_for_the_spec_period(services: dict[str, dict[str, Any]]) -> None:
    words = command_words(services["prometheus"])
    retention = [word for word in words if word.startswith("--storage.tsdb.retention.time=")]
    assert retention == [f"--storage.tsdb.retention.time={METRICS_RETENTION.prometheus_duration}"]
    assert "--web.enable-remote-write-receiver" in words
    assert "--enable-feature=exemplar-storage" in words


def test_loki_keeps_logs_for_the_spec_period(loki: dict[str, Any]) -> None:
    assert whole_seconds(loki["limits_config"]["retention_period"]) == LOGS_RETENTION.seconds
    compactor = loki["compactor"]
    assert compactor["retention_enabled"] is True  # without it the period is never applied
    (period,) = loki["schema_config"]["configs"]
    assert compactor["delete_request_store"] == period["object_store"] == "filesystem"
    assert period["index"]["period"] == "24h"  # retention needs the 24h index period


def test_loki_accepts_otlp_with_structured_metadata(loki: dict[str, Any]) -> None:
    assert loki["limits_config"]["allow_structured_metadata"] is True
    (period,) = loki["schema_config"]["configs"]
    assert (period["store"], period["schema"]) == ("tsdb", "v13")
    labels = loki["distributor"]["otlp_config"]["default_resource_attributes_as_index_labels"]
    assert "service.name" in labels
    assert "deployment.environment.name" in labels
    assert "service.instance.id" not in labels  # a new stream per process start


def test_tempo_keeps_traces_as_long_as_the_metrics(tempo: dict[str, Any]) -> None:
    retention = tempo["backend_worker"]["compaction"]["block_retention"]
    assert whole_seconds(retention) == TRACES_RETENTION.seconds


# --- exposure and secrets -----------------------------------------------------------------------


def test_every_published_port_binds_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = []
    for name, service in services.items():
        assert service.get("network_mode") is None, name
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the short syntax with a host address: {port!r}"
            assert port.startswith("127.0.0.1:"), f"{name}: {port} is reachable from other machines"
            published.append((name, int(port.rpartition(":")[2])))
    assert sorted(published) == sorted(
        [("otel-collector", 4317), ("otel-collector", 4318), ("otel-collector", 13133), ("prometheus", 9090),
         ("alertmanager", 9093), ("tempo", 3200), ("loki", 3100), ("grafana", 3000), ("alert-history", 9097)]
    )  # fmt: skip


def secret_references(text: str) -> set[str]:
    return set(re.findall(rf"{SECRETS_DIR}/([\w.-]+)", text))


def test_secrets_are_files_granted_to_the_services_that_read_them(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, f"secret {name} must come from a file"
        assert secret["file"] == f"${{TAROT_SECRETS_DIR:?see deploy/compose/README.md}}/{name}"
    used = set()
    for name, service in services.items():
        granted = set(service.get("secrets", []))
        assert granted <= set(declared), name
        text = json.dumps({key: service.get(key) for key in ("environment", "command", "healthcheck")})
        if name == "alertmanager":
            text += COMPOSE_ALERTMANAGER.read_text()
        if name == "grafana":
            text += COMPOSE_DATASOURCES.read_text()
        if name == "prometheus":
            text += COMPOSE_PROMETHEUS.read_text()
        if name == "otel-collector":
            text += COLLECTOR_OVERLAY.read_text()
        assert secret_references(text) == granted, name
        used |= granted
    assert used == set(declared)


SECRET_NAME = re.compile(r"(?i)(password|passwd|token|secret|api_?key|credential)")


def test_no_secret_value_in_the_environment(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE"), f"{name}: {key} holds a secret value; pass a file"
                # or a private copy of a secret file, made by the command before anything else runs
                script = str((service.get("command") or [""])[-1])
                made = script.startswith("umask 077 && ") and re.search(
                    rf"cat {SECRETS_DIR}/\S+ > {value} &&", script
                )
                assert str(value).startswith(f"{SECRETS_DIR}/") or made, f"{name}: {key}={value}"
    command = " ".join(command_words(services["alert-history"]))
    assert "PGPASSWORD=$$(cat /run/secrets/postgres-password)" in command
    assert re.search(r"postgresql://[^:@/\s]+@", command)  # the DSN holds no password


def test_no_secret_in_the_files(datasources: dict[str, dict[str, Any]]) -> None:
    scrubber = Scrubber(user_hash_key="test")
    files = [COMPOSE_FILE, LOKI_FILE, TEMPO_FILE, COMPOSE_DATASOURCES, COMPOSE_PROMETHEUS]
    leaks = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if scrubber.scrub_text(line) != line
    ]
    assert leaks == []
    # The check can fail: a bot token or a password in a DSN is caught.
    assert scrubber.scrub_text("TOKEN: 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") != (
        "TOKEN: 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    )
    assert scrubber.scrub_text("postgresql://alert_history:hunter22@postgres/db") != (
        "postgresql://alert_history:hunter22@postgres/db"
    )
    for source in datasources.values():
        # A secret a data source needs is read by Grafana from a mounted file, never written here.
        for value in (source.get("secureJsonData") or {}).values():
            assert re.fullmatch(rf"\$__file\{{{SECRETS_DIR}/[\w-]+\}}", value), value
        if source.get("basicAuth"):  # the password from a file too (test_compose_auth.py says which)
            assert set(source["secureJsonData"]) == {"basicAuthPassword"}


# --- how the services reach each other ----------------------------------------------------------


def collector_default(variable: str) -> str:
    found = re.search(rf"\$\{{env:{variable}:-([^}}]+)\}}", COLLECTOR_OVERLAY.read_text())
    assert found is not None, variable
    return found.group(1)


def port_of(address: str) -> int:
    return int(re.sub(r"/.*$", "", address.split("://")[-1]).rpartition(":")[2])


def host_of(address: str) -> str:
    return re.sub(r"/.*$", "", address.split("://")[-1]).rpartition(":")[0]


def test_the_collector_reaches_the_backends_by_service_name(
    services: dict[str, dict[str, Any]], loki: dict[str, Any], tempo: dict[str, Any]
) -> None:
    remote_write = collector_default("TAROT_PROMETHEUS_REMOTE_WRITE_URL")
    assert remote_write == "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in command_words(services["prometheus"])
    tempo_otlp = collector_default("TAROT_TEMPO_OTLP_ENDPOINT")
    tempo_receiver = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert host_of(tempo_otlp) == "tempo"
    assert port_of(tempo_otlp) == port_of(tempo_receiver)
    assert tempo_receiver.startswith("0.0.0.0:")
    loki_otlp = collector_default("TAROT_LOKI_OTLP_ENDPOINT")
    assert (host_of(loki_otlp), port_of(loki_otlp)) == ("loki", loki["server"]["http_listen_port"])
    assert loki_otlp.endswith("/otlp")
    # The published OTLP and health ports are the ones the overlay listens on.
    for variable, port in (("TAROT_COLLECTOR_OTLP_GRPC_ADDR", 4317), ("TAROT_COLLECTOR_OTLP_HTTP_ADDR", 4318),
                           ("TAROT_COLLECTOR_HEALTH_ADDR", 13133)):  # fmt: skip
        assert collector_default(variable) == f"0.0.0.0:{port}"
        assert any(p.endswith(f":{port}") for p in services["otel-collector"]["ports"])


def test_prometheus_and_alertmanager_reach_their_peers(services: dict[str, dict[str, Any]]) -> None:
    config = read(COMPOSE_PROMETHEUS)
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    history = services["alert-history"]
    listen = command_words(history)[command_words(history).index("--listen") + 1]
    assert listen == "0.0.0.0:9097"
    urls = re.findall(r"url: (\S+)", COMPOSE_ALERTMANAGER.read_text())
    assert [u for u in urls if "9097" in u] == [
        "http://alert-history:9097/alertmanager/webhook", "http://alert-history:9097/watchdog",
    ]  # fmt: skip


def test_grafana_data_sources_point_at_the_services(
    datasources: dict[str, dict[str, Any]], loki: dict[str, Any], tempo: dict[str, Any]
) -> None:
    assert {uid: source["url"] for uid, source in datasources.items()} == {
        "prometheus": "http://prometheus:9090",
        "tempo": f"http://tempo:{tempo['server']['http_listen_port']}",
        "loki": f"http://loki:{loki['server']['http_listen_port']}",
        "alert-history": "postgres:5432",
    }
    assert {source["type"] for source in datasources.values()} == {
        "prometheus",
        "tempo",
        "loki",
        "grafana-postgresql-datasource",
    }
    links = {
        "exemplars": datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0],
        "traces to logs": datasources["tempo"]["jsonData"]["tracesToLogsV2"],
        "traces to metrics": datasources["tempo"]["jsonData"]["tracesToMetrics"],
        "logs to traces": datasources["loki"]["jsonData"]["derivedFields"][0],
    }
    assert {name: link["datasourceUid"] for name, link in links.items()} == {
        "exemplars": "tempo",
        "traces to logs": "loki",
        "traces to metrics": "prometheus",
        "logs to traces": "tempo",
    }
    # Loki keeps an OTLP record's trace id as structured metadata named trace_id, and the collector
    # writes exemplars with a trace_id label: both links key on that name.
    assert links["exemplars"]["name"] == "trace_id"
    derived = links["logs to traces"]
    assert (derived["matcherType"], derived["matcherRegex"]) == ("label", "trace_id")
    assert 'trace_id="$${__trace.traceId}"' in links["traces to logs"]["query"]


def test_grafana_link_variables_are_escaped_from_env_expansion() -> None:
    """Grafana expands $VAR and ${VAR} in provisioning files: an unescaped ${__value.raw} becomes ""."""
    lines = DATASOURCES_FILE.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    # $__file{...} is the one expansion meant to happen (a secret read from a file).
    assert re.findall(r"(?<!\$)\$\{?__(?!file\{)", text) == []
    assert len(re.findall(r"\$\$\{?__", text)) == 5


def test_healthchecks_restart_policies_and_dependencies(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        if name == "otel-collector":
            assert "healthcheck" not in service  # scratch image: no probe command (see the comment)
            continue
        test = service["healthcheck"]["test"]
        # A shell only where the probe reads the answer (basic auth: a 401 means up, test_compose_auth.py).
        assert test[0] == ("CMD-SHELL" if name in ("prometheus", "alertmanager") else "CMD"), name
        for url in re.findall(r"http://127\.0\.0\.1:(\d+)", " ".join(test)):
            container_ports = {int(p.rpartition(":")[2]) for p in service.get("ports", [])}
            assert int(url) in container_ports or name == "postgres", f"{name} probes {url}"
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == {"condition": wanted}, f"{name} -> {dependency}"
    volumes = [volume for service in services.values() for volume in service.get("volumes", [])]
    named = {volume.split(":")[0] for volume in volumes if not volume.startswith("./")}
    assert named == set(compose["volumes"])


# --- the two configs compose needs of its own ----------------------------------------------------


def without_compose_auth(text: str) -> str:
    """`text` without the basic-auth blocks marked "compose only" (test_compose_auth.py checks them)."""
    return re.sub(r"\n( *)basic_auth: # compose only.*(\n\1  .*)+", "", text)


def test_compose_prometheus_config_is_the_repository_one_with_alertmanager_by_name() -> None:
    base = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    text = without_compose_auth(COMPOSE_PROMETHEUS.read_text())
    expected = (
        base.replace("127.0.0.1:9093", "alertmanager:9093")
        .replace("127.0.0.1:9097", "alert-history:9097")
        .replace(NATIVE_HISTORY_TOKEN, COMPOSE_HISTORY_TOKEN)
    )
    assert expected != base
    assert text.endswith(expected), "deploy/compose/prometheus.yml drifted from deploy/prometheus"
    assert all(line.startswith("#") for line in text[: len(text) - len(expected)].splitlines())
    assert text != COMPOSE_PROMETHEUS.read_text()  # the auth blocks were there to remove


def test_compose_grafana_data_sources_are_the_shared_ones_with_prometheus_auth() -> None:
    """The Helm chart shares deploy/grafana/provisioning (its Prometheus has no basic auth): compose's
    copy may differ only by the Prometheus data source's login."""
    shared = DATASOURCES_FILE.read_text()
    text = COMPOSE_DATASOURCES.read_text()
    auth = re.search(r"\n *# compose only:.*\n(?: +(?:basicAuth|secureJsonData).*\n(?: {6}.*\n)?)+", text)
    assert auth is not None
    stripped = text[: auth.start()] + "\n" + text[auth.end() :]
    assert stripped.endswith(shared), "deploy/compose/grafana-datasources.yaml drifted from deploy/grafana"
    assert all(line.startswith("#") for line in stripped[: len(stripped) - len(shared)].splitlines())


NATIVE_HISTORY_TOKEN = "/etc/prometheus/secrets/alert-history-token"
COMPOSE_HISTORY_TOKEN = "/run/secrets/alert-history-token"


def write_checkable_prometheus_config(config: Path, directory: Path) -> None:
    """`config` as directory/prometheus.yml with the history's token file (which promtool checks exists)
    at a path that exists here instead of the container's /run/secrets."""
    assert COMPOSE_HISTORY_TOKEN in config.read_text()
    (directory / "alert-history-token").write_text("token\n")
    text = config.read_text().replace(COMPOSE_HISTORY_TOKEN, str(directory / "alert-history-token"))
    (directory / "prometheus.yml").write_text(text)


def test_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install it with `scripts/services.sh install` (Debian's prometheus)")
    write_checkable_prometheus_config(COMPOSE_PROMETHEUS, tmp_path)
    (tmp_path / "rules").symlink_to(ROOT / "deploy" / "prometheus" / "rules")  # the compose mount
    argv = [promtool, "check", "config", "prometheus.yml"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(re.findall(r"SUCCESS: \d+ rules found", done.stdout)) == len(rule_files()), done.stdout


def test_compose_alertmanager_config_is_the_generators_output() -> None:
    text = COMPOSE_ALERTMANAGER.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
    assert body == dump(alertmanager_config(COMPOSE_ALERTMANAGER_SETTINGS)), (
        "regenerate deploy/compose/alertmanager.yml with the command in its header"
    )
    checked_in = (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text()
    assert "http://127.0.0.1:9097" in checked_in
    assert "127.0.0.1" not in body
