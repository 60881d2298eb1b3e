"""What the aiogram and python-telegram-bot integrations share: one span per Telegram update.

Each incoming update gets one root span, ``telegram.update <type>``, that stays current while the
framework processes it, so every span the handlers start (manual ones, httpx, asyncpg, redis) is
its child. The span is a CONSUMER span: a Telegram update is a message the bot takes off Telegram's
update queue (``getUpdates`` is literally a poll; a webhook only pushes the same message), which is
what OpenTelemetry's messaging conventions model with CONSUMER "process" spans. It also keeps a
webhook deployment from nesting a second SERVER span under the web framework's own. The update span
is always a root: whatever span was current (a webhook request) is kept as a link instead, so every
update starts its own trace whether it came by polling or webhook.

Only bounded, non-identifying values become attributes: the update type, the chat type, the
command when it is one the bot knows (anything else is ``other``), and a keyed hash of the user id.
Message text, captions, names, usernames and phone numbers are never read into telemetry.

With the span current, the middleware also records what only it sees (:mod:`._activity`: the
user and session, a Telegram payment) and makes sure the event-loop lag monitor runs
(:mod:`._loop_lag`). :meth:`UpdateTracer.run` is the one place where a framework's update, read
into :class:`UpdateInfo`, is known together with its span.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from tarot_monitoring import _state, semconv
from tarot_monitoring.integrations._activity import UpdateActivity
from tarot_monitoring.integrations._loop_lag import LagMonitorStarter
from tarot_monitoring.integrations._payments import TelegramPayment
from tarot_monitoring.update_secrets import protect_update

T = TypeVar("T")
HashUserId = Callable[[int], str]
"""Turns a Telegram user id into its exported stand-in (a keyed hash)."""

_LOG: Final = logging.getLogger(__name__)

OTHER: Final = "other"
"""The command attribute of a command the bot does not know; the chat type of an unknown chat type."""
UNKNOWN_UPDATE: Final = "unknown"
CHAT_TYPES: Final = frozenset({"private", "group", "supergroup", "channel", "sender"})
# Telegram's own rule for bot commands: 1-32 lowercase letters, digits and underscores.
_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
_UPDATE_TYPE: Final = re.compile(r"[a-z_]{1,64}")

_current_scope: ContextVar[UpdateScope | None] = ContextVar("tarot_monitoring_update_scope", default=None)


def default_hash_user_id(user_id: int) -> str:
    """Keyed hash with the configured key (``user_hash_key``), looked up per call.

    The same user then has the same ``enduser.id`` on update spans as in the bot's other
    telemetry, and a later `configure()` takes effect without re-instrumenting. Before
    `configure()` it is a process-wide random key.
    """
    return _state.hash_user_id(user_id)


def normalize_commands(commands: Iterable[str] | None) -> frozenset[str] | None:
    """The `commands` argument as bare lowercase names (``/Start`` -> ``start``), or a clear error."""
    if commands is None:
        return None
    if isinstance(commands, str | bytes) or not isinstance(commands, Iterable):
        raise TypeError(
            f"commands must be an iterable of command names like ['start', 'reading'], not {commands!r}"
        )
    names: set[str] = set()
    for command in commands:
        if not isinstance(command, str):
            raise TypeError(f"commands must hold strings, got {command!r}")
        name = command.strip().removeprefix("/").casefold()
        if not _COMMAND_NAME.fullmatch(name):
            raise ValueError(
                f"commands: {command!r} is not a Telegram bot command "
                "(1-32 letters, digits or underscores, with or without the leading '/')"
            )
        names.add(name)
    return frozenset(names)


def command_names(candidates: Iterable[str]) -> frozenset[str]:
    """The valid bot command names among commands read from a framework's handlers."""
    names = (candidate.removeprefix("/").casefold() for candidate in candidates)
    return frozenset(name for name in names if _COMMAND_NAME.fullmatch(name))


def fixed_commands(names: frozenset[str]) -> Callable[[], Collection[str]]:
    """A `known_commands` source for a set the bot gave explicitly."""
    return lambda: names


def command_attribute(text: str | None, known: Callable[[], Collection[str]]) -> str | None:
    """The command of a message as a bounded value: a known name, ``other``, or None for plain text.

    Only the first word is looked at, and only when it starts with ``/``; `known` is called
    only then, so plain messages cost nothing.
    """
    if not text or not text.startswith("/"):
        return None
    first_word = text.split(maxsplit=1)[0]
    name = first_word[1:].partition("@")[0].casefold()
    return name if name and name in known() else OTHER


@dataclass(frozen=True, slots=True)
class UpdateInfo:
    """What a framework integration read from an update; turned into attributes here."""

    update_type: str
    chat_type: str | None = None
    user_id: int | None = None
    text: str | None = None
    """The text of a message-like update: read only for a leading ``/command``, never exported."""
    payment: TelegramPayment | None = None
    """A pre-checkout query, successful payment or refund the update carries."""


def span_update_type(info: UpdateInfo) -> str:
    """The update type as exported: a framework's type name, or ``unknown``."""
    return info.update_type if _UPDATE_TYPE.fullmatch(info.update_type) else UNKNOWN_UPDATE


def update_attributes(
    info: UpdateInfo, *, known_commands: Callable[[], Collection[str]], hash_user_id: HashUserId
) -> dict[str, AttributeValue]:
    """The span attributes of an update: all bounded, none identifying."""
    attributes: dict[str, AttributeValue] = {semconv.UPDATE_TYPE: span_update_type(info)}
    command = command_attribute(info.text, known_commands)
    if command is not None:
        attributes[semconv.COMMAND] = command
    if info.chat_type is not None:
        attributes[semconv.CHAT_TYPE] = info.chat_type if info.chat_type in CHAT_TYPES else OTHER
    if info.user_id is not None:
        try:
            attributes[semconv.USER_HASH] = hash_user_id(info.user_id)
        except Exception:
            _LOG.debug("hash_user_id failed; the update span goes without enduser.id", exc_info=True)
    return attributes


class UpdateScope:
    """One update being processed: its span, the errors seen, and the work still holding it open."""

    __slots__ = ("_body_done", "_ended", "_errors", "_pending", "span", "update")

    def __init__(self, span: Span, update: object) -> None:
        self.span = span
        self.update = update
        self._errors: list[BaseException] = []
        self._pending = 0
        self._body_done = False
        self._ended = False

    def record_error(self, error: BaseException) -> None:
        """Record `error` once (frameworks may report it twice); the first one sets error.type."""
        try:
            if any(seen is error for seen in self._errors):
                return
            self._errors.append(error)
            self.span.record_exception(error)
            if len(self._errors) == 1:
                error_type = type(error).__qualname__
                self.span.set_attribute(semconv.ERROR_TYPE, error_type)
                self.span.set_status(Status(StatusCode.ERROR, error_type))
        except Exception:
            _LOG.debug("could not record an error on the update span", exc_info=True)

    def hold(self, task: asyncio.Future[Any]) -> None:
        """Keep the span open until `task` (background work for this update) is done too."""
        self._pending += 1
        task.add_done_callback(self._release)

    def _release(self, _task: object) -> None:
        self._pending -= 1
        self._end_if_done()

    def finish(self) -> None:
        """The framework's processing returned; end now unless background work still holds it."""
        self._body_done = True
        self._end_if_done()

    def _end_if_done(self) -> None:
        if self._body_done and self._pending <= 0 and not self._ended:
            self._ended = True
            try:
                self.span.end()
            except Exception:
                _LOG.debug("could not end the update span", exc_info=True)


def current_scope(update: object) -> UpdateScope | None:
    """The scope of `update` if it is the one being processed in this context, else None."""
    scope = _current_scope.get()
    return scope if scope is not None and scope.update is update else None


def record_error(update: object, error: BaseException) -> None:
    """Record `error` on the span of `update`, if that update is being processed in this context."""
    scope = current_scope(update)
    if scope is not None:
        scope.record_error(error)


def _read(describe: Callable[[], UpdateInfo]) -> UpdateInfo:
    try:
        return describe()
    except Exception:
        _LOG.debug("could not read the update; tracing it with fewer attributes", exc_info=True)
        return UpdateInfo(update_type=UNKNOWN_UPDATE)


def _package_version() -> str | None:
    try:
        return metadata.version("tarot-monitoring")
    except metadata.PackageNotFoundError:
        return None


class UpdateTracer:
    """Runs a framework's processing of one update inside that update's span."""

    def __init__(
        self,
        *,
        instrumentation: str,
        tracer_provider: TracerProvider | None,
        known_commands: Callable[[], Collection[str]],
        hash_user_id: HashUserId | None,
        activity: UpdateActivity | None = None,
        lag_monitor: LagMonitorStarter | None = None,
    ) -> None:
        provider = _state.tracer_provider(tracer_provider)
        self._tracer: Tracer = provider.get_tracer(instrumentation, _package_version())
        self._known_commands = known_commands
        self._hash_user_id: HashUserId = hash_user_id if hash_user_id is not None else default_hash_user_id
        self.activity = activity if activity is not None else UpdateActivity()
        self.lag_monitor = lag_monitor if lag_monitor is not None else LagMonitorStarter()

    async def run(
        self,
        update: object,
        describe: Callable[[], UpdateInfo],
        process: Callable[[], Awaitable[T]],
        *,
        not_errors: tuple[type[BaseException], ...] = (),
    ) -> T:
        """Await `process()` with the update's span current; errors are recorded and re-raised as is.

        `not_errors` are the framework's control-flow exceptions (skip/cancel), passed through
        without marking the span as failed.
        """
        self.lag_monitor.ensure_started()
        info = _read(describe)
        # The update's user, chat and text are known here, in `info`, for the whole processing
        # of the update: per-update hooks that need them belong next to `_observe` below.
        scope = self._open(update, info)
        if scope is None:
            self._observe(info)
            return await process()
        token = _current_scope.set(scope)
        try:
            with trace.use_span(scope.span, record_exception=False, set_status_on_exception=False):
                self._observe(info)
                return await process()
        except not_errors:
            raise
        except Exception as error:
            scope.record_error(error)
            raise
        finally:
            _current_scope.reset(token)
            scope.finish()

    def _observe(self, info: UpdateInfo) -> None:
        try:
            self.activity.record(info.user_id, info.payment)
        except Exception:
            _LOG.debug("could not record the update's activity", exc_info=True)

    def _open(self, update: object, info: UpdateInfo) -> UpdateScope | None:
        # Telemetry never breaks the bot: any failure here means this update goes untraced.
        try:
            attributes = update_attributes(
                info, known_commands=self._known_commands, hash_user_id=self._hash_user_id
            )
            ambient = trace.get_current_span().get_span_context()
            span = self._tracer.start_span(
                f"telegram.update {span_update_type(info)}",
                context=otel_context.Context(),  # always a root: one trace per update
                kind=SpanKind.CONSUMER,
                attributes=attributes,
                links=[Link(ambient)] if ambient.is_valid else None,
            )
            protect_update(update, span)  # its ids, names and words: redacted from its telemetry
            return UpdateScope(span, update)
        except Exception:
            _LOG.debug("could not start the update span; processing the update untraced", exc_info=True)
            return None
