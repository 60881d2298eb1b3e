"""``tarot-monitor alerts serve --deadman-*``: the dead man's switch's own settings and secret files.

Independent of Alertmanager's configuration on purpose: the switch must reach people when
Alertmanager is the thing that died. Secrets (the webhook URL, which for most pagers holds the
integration key, its token, the SMTP password) are read from files once at start-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tarot_monitoring.alert_history.deadman import (
    DEFAULT_TIMEOUT_S,
    DeadmanSwitch,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from tarot_monitoring.cli_args import positive_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--deadman-*`` options of ``alerts serve``."""
    group = parser.add_argument_group(
        "dead man's switch",
        "page out of band (not through Alertmanager) when the Watchdog heartbeat stops; "
        "runs when a webhook or an SMTP server is given",
    )
    group.add_argument(
        "--deadman-timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"no heartbeat for this long trips it (default {DEFAULT_TIMEOUT_S:.0f}: the Watchdog route's "
        "repeat_interval + group_interval + 1 minute)",
    )
    group.add_argument("--deadman-webhook-url-file", metavar="FILE", help="a file holding the webhook URL")
    group.add_argument("--deadman-webhook-token-file", metavar="FILE", help="Bearer token for the webhook")
    group.add_argument("--deadman-smtp", metavar="HOST:PORT", help="SMTP server for the e-mail notice")
    group.add_argument("--deadman-smtp-from", metavar="ADDRESS", help="sender of the e-mail")
    group.add_argument("--deadman-smtp-to", action="append", metavar="ADDRESS", help="recipient (repeatable)")
    group.add_argument("--deadman-smtp-username", metavar="NAME", help="SMTP login")
    group.add_argument(
        "--deadman-smtp-password-file", metavar="FILE", help="a file holding the SMTP password"
    )
    group.add_argument(
        "--deadman-smtp-no-starttls", action="store_true", help="plain SMTP (a local relay only)"
    )


def _secret(path: str | None) -> str | None:
    return Path(path).read_text().strip() if path else None


def switch_from_args(args: argparse.Namespace) -> DeadmanSwitch | None:
    """The switch the options describe; None when no channel is given. SystemExit naming a bad option."""
    notifiers: list[Notifier] = []
    url = _secret(args.deadman_webhook_url_file)
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise SystemExit("--deadman-webhook-url-file: the file must hold an http(s):// URL")
        notifiers.append(WebhookNotifier(url, token=_secret(args.deadman_webhook_token_file)))
    if args.deadman_smtp:
        host, _, port = args.deadman_smtp.rpartition(":")
        if not host or not port.isdigit():
            raise SystemExit(f"--deadman-smtp: expected HOST:PORT, got {args.deadman_smtp!r}")
        if not args.deadman_smtp_from or not args.deadman_smtp_to:
            raise SystemExit("--deadman-smtp needs --deadman-smtp-from and at least one --deadman-smtp-to")
        notifiers.append(
            SmtpNotifier(
                host,
                int(port),
                args.deadman_smtp_from,
                tuple(args.deadman_smtp_to),
                username=args.deadman_smtp_username,
                password=_secret(args.deadman_smtp_password_file),
                starttls=not args.deadman_smtp_no_starttls,
            )
        )
    if not notifiers:
        return None
    if args.deadman_timeout <= 0:
        raise SystemExit("--deadman-timeout must be a positive number of seconds")
    return DeadmanSwitch(notifiers, timeout_s=args.deadman_timeout)
