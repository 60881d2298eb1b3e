"""Non-urgent maintenance signals: the TLS certificate of the bot's webhook URL running out.

Telegram delivers webhook updates only over valid TLS; an expired certificate silently stops
every update. :func:`watch_certificate` reads the certificate's ``notAfter`` from a TLS handshake
(verified like Telegram verifies it) and exports the time left as the gauge
``tarot.tls.certificate.time_left`` (seconds, by ``server.address``); the P4
``TarotTLSCertificateExpiring`` alert (render/rules/maintenance.py) fires weeks ahead::

    from tarot_monitoring.maintenance import watch_certificate

    watch = watch_certificate("https://bot.example.com/webhook")
    ...
    watch.close()

The handshake runs in a daemon thread every `refresh_s` (an hour by default), never on the
event loop nor in the metric reader; the gauge computes the time left at each collection, so it
keeps counting down between handshakes. A certificate that fails verification because it has
expired reads as 0 seconds left; any other failure keeps the last good ``notAfter`` (and is
logged), and before a first success nothing is exported.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from tarot_monitoring import _state, semconv
from tarot_monitoring.dropped import METER_NAME

__all__ = ["CertificateWatch", "certificate_not_after", "watch_certificate"]

_log = logging.getLogger(__name__)

DEFAULT_REFRESH_S: Final = 3600.0
DEFAULT_TIMEOUT_S: Final = 10.0
_EXPIRED: Final = 10
"""OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED (``SSLCertVerificationError.verify_code``)."""


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"expected an https URL or host[:port], got {url!r}")
    return parts.hostname, parts.port or 443


def certificate_not_after(
    url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, context: ssl.SSLContext | None = None
) -> float:
    """The ``notAfter`` of the certificate `url` (``https://host[:port]/...`` or ``host[:port]``)
    presents, in seconds since the epoch, after a verified handshake.

    Raises ``ssl.SSLCertVerificationError`` for a certificate that does not verify (an expired
    one included) and ``OSError`` when the host cannot be reached.
    """
    host, port = _host_port(url)
    tls = context or ssl.create_default_context()
    with (
        socket.create_connection((host, port), timeout=timeout_s) as raw,
        tls.wrap_socket(raw, server_hostname=host) as conn,
    ):
        cert = conn.getpeercert()
    if not cert or "notAfter" not in cert:
        raise ssl.SSLError(f"{host}:{port} presented no certificate with a notAfter")
    return float(ssl.cert_time_to_seconds(str(cert["notAfter"])))


class CertificateWatch:
    """Exports the time left on one URL's certificate; start with :func:`watch_certificate`."""

    def __init__(
        self,
        url: str,
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        context: ssl.SSLContext | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.host, self.port = _host_port(url)
        self.url = url
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self._context = context
        self._not_after: float | None = None
        self._stop = threading.Event()
        self._checked = threading.Event()
        provider = _state.meter_provider(meter_provider)
        provider.get_meter(METER_NAME).create_observable_gauge(
            semconv.TLS_CERTIFICATE_TIME_LEFT,
            callbacks=[self._observe],
            unit="s",
            description="Seconds until the watched TLS certificate expires (0 once expired).",
        )
        self._thread = threading.Thread(target=self._run, name="tarot-tls-expiry", daemon=True)

    @property
    def not_after(self) -> float | None:
        """The last ``notAfter`` read (seconds since the epoch), None before a first success."""
        return self._not_after

    def start(self) -> CertificateWatch:
        self._thread.start()
        return self

    def wait_checked(self, timeout_s: float) -> bool:
        """True once the first handshake finished (successfully or not) within `timeout_s`."""
        return self._checked.wait(timeout_s)

    def close(self) -> None:
        """Stop the handshakes; the gauge stays registered but reports nothing more."""
        self._stop.set()
        self._not_after = None

    def check_now(self) -> None:
        """One handshake; never raises (failures are logged)."""
        try:
            self._not_after = certificate_not_after(self.url, timeout_s=self.timeout_s, context=self._context)
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code == _EXPIRED:
                self._not_after = min(self._not_after or time.time(), time.time())
            _log.warning("TLS certificate of %s:%s does not verify: %s", self.host, self.port, exc)
        except (OSError, ValueError) as exc:
            _log.warning("TLS certificate of %s:%s could not be read: %s", self.host, self.port, exc)
        finally:
            self._checked.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_now()
            self._stop.wait(self.refresh_s)

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        not_after = self._not_after
        if not_after is None or self._stop.is_set():
            return []
        left = max(0.0, not_after - time.time())
        return [Observation(left, {semconv.SERVER_ADDRESS: self.host})]


def watch_certificate(
    url: str,
    *,
    refresh_s: float = DEFAULT_REFRESH_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    context: ssl.SSLContext | None = None,
    meter_provider: MeterProvider | None = None,
) -> CertificateWatch:
    """Start exporting the time left on `url`'s TLS certificate (the webhook URL Telegram calls).

    `context` is the verifying SSL context (the system's trust store by default; a test passes
    one trusting its own CA). `meter_provider` defaults to the configured one.
    """
    return CertificateWatch(
        url, refresh_s=refresh_s, timeout_s=timeout_s, context=context, meter_provider=meter_provider
    ).start()
