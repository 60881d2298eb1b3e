"""aiogram 3: one span around each update's whole trip through the dispatcher.

The span comes from an outer middleware on ``dispatcher.update``, put *first* in the chain,
ahead of aiogram's own ErrorsMiddleware, UserContextMiddleware and FSM middleware: the span
then covers FSM storage calls and the bot's ``@dp.errors()`` handlers too, so their spans are
children of the update as well. Because ErrorsMiddleware sits inside it and may swallow an
error that an error handler handled, a second outer middleware on ``dispatcher.errors`` records
every handler error on the update span as the error handlers receive it; an error nobody
handles also passes back out through the update middleware, is recorded there (once) and
re-raised unchanged.

Concurrency needs nothing extra: aiogram runs each polled update in its own task
(``handle_as_tasks``), the span is current only in that task's context, and concurrent updates
never see each other's span.

Besides the span, each update's user, session and Telegram payment are recorded as business
telemetry (:mod:`._activity`), and the event-loop lag monitor is started on the dispatcher's
``startup`` (polling and webhook alike), or at once when instrumenting inside the running loop.
The Bot API calls themselves are traced by the aiohttp integration (``configure()`` turns it on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, Final

from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._activity import UpdateActivity
from tarot_monitoring.integrations._loop_lag import LagMonitorStarter
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._payments import TelegramPayment
from tarot_monitoring.integrations._sessions import DEFAULT_SESSION_IDLE_S
from tarot_monitoring.integrations._updates import (
    UNKNOWN_UPDATE,
    HashUserId,
    UpdateInfo,
    UpdateTracer,
    command_names,
    fixed_commands,
    normalize_commands,
    record_error,
)

try:
    from aiogram import Dispatcher
    from aiogram.dispatcher.event.bases import CancelHandler, SkipHandler
    from aiogram.dispatcher.middlewares.base import BaseMiddleware
    from aiogram.dispatcher.middlewares.manager import MiddlewareManager
    from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
    from aiogram.types import ErrorEvent, InlineQuery, Message, PreCheckoutQuery, TelegramObject, Update
    from aiogram.types.update import UpdateTypeLookupError
except ImportError as exc:  # pragma: no cover - exercised by a test that hides aiogram
    raise MissingDependencyError("tarot_monitoring.integrations.aiogram", "aiogram", exc) from exc

__all__ = ["instrument_aiogram", "uninstrument_aiogram"]

_INSTRUMENTATION: Final = "tarot_monitoring.integrations.aiogram"
# Observers whose handlers can be commands: aiogram's Command filter reads message text/caption.
_MESSAGE_EVENTS: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)

_Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class _RegisteredCommands:
    """The ``/`` commands of the dispatcher's Command filters, re-read when handlers are added."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._signature = -1
        self._names: frozenset[str] = frozenset()

    def __call__(self) -> Collection[str]:
        observers = [
            router.observers[event]
            for router in self._dispatcher.chain_tail
            for event in _MESSAGE_EVENTS
            if event in router.observers
        ]
        signature = sum(len(observer.handlers) for observer in observers)
        if signature != self._signature:
            candidates: list[str] = []
            for observer in observers:
                for handler in observer.handlers:
                    # Command.update_handler_flags() lists every Command filter of a handler here.
                    for command_filter in handler.flags.get("commands", ()):
                        if "/" not in getattr(command_filter, "prefix", "/"):
                            continue
                        commands = getattr(command_filter, "commands", ())
                        candidates.extend(command for command in commands if isinstance(command, str))
            self._names = command_names(candidates)
            self._signature = signature
        return self._names


def _describe(update: Update) -> UpdateInfo:
    try:
        update_type = update.event_type
        event: object = update.event
    except UpdateTypeLookupError:
        return UpdateInfo(update_type=UNKNOWN_UPDATE)
    context = UserContextMiddleware.resolve_event_context(update)
    chat_type = context.chat.type if context.chat is not None else None
    if chat_type is None and isinstance(event, InlineQuery):
        chat_type = event.chat_type
    text = None
    if update_type in _MESSAGE_EVENTS and isinstance(event, Message):
        text = event.text or event.caption  # as aiogram's Command filter reads it
    return UpdateInfo(
        update_type=update_type,
        chat_type=chat_type,
        user_id=context.user.id if context.user is not None else None,
        text=text,
        payment=_payment(event),
    )


def _payment(event: object) -> TelegramPayment | None:
    if isinstance(event, PreCheckoutQuery):
        return TelegramPayment("pre_checkout", event.currency, event.total_amount)
    if isinstance(event, Message):
        # getattr: ``refunded_payment`` is newer than the oldest aiogram we support (3.5).
        paid = getattr(event, "successful_payment", None)
        if paid is not None:
            return TelegramPayment("successful", paid.currency, paid.total_amount)
        refunded = getattr(event, "refunded_payment", None)
        if refunded is not None:
            return TelegramPayment("refunded", refunded.currency, refunded.total_amount)
    return None


class _UpdateSpanMiddleware(BaseMiddleware):
    """Outermost ``dispatcher.update`` middleware: the update's span around everything else."""

    def __init__(self, tracer: UpdateTracer) -> None:
        self._tracer = tracer

    async def on_startup(self) -> None:
        """``dispatcher.startup`` handler: the loop that runs the bot exists now."""
        self._tracer.lag_monitor.ensure_started()

    async def __call__(self, handler: _Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        return await self._tracer.run(
            event,
            lambda: _describe(event),
            lambda: handler(event, data),
            not_errors=(SkipHandler, CancelHandler),
        )


class _ErrorRecorder(BaseMiddleware):
    """``dispatcher.errors`` middleware: records a handler error the bot's error handlers may swallow."""

    async def __call__(self, handler: _Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, ErrorEvent):
            record_error(event.update, event.exception)
        return await handler(event, data)


def _prepend(manager: MiddlewareManager, middleware: BaseMiddleware) -> None:
    # MiddlewareManager only appends; re-registering the others after ours puts ours first.
    existing = list(manager)
    for registered in existing:
        manager.unregister(registered)
    manager.register(middleware)
    for registered in existing:
        manager.register(registered)


def _ours(manager: MiddlewareManager) -> list[Any]:
    return [m for m in manager if isinstance(m, _UpdateSpanMiddleware | _ErrorRecorder)]


def instrument_aiogram(
    dispatcher: Dispatcher,
    *,
    tracer_provider: TracerProvider | None = None,
    commands: Iterable[str] | None = None,
    hash_user_id: HashUserId | None = None,
    record_activity: bool = True,
    session_idle_s: float = DEFAULT_SESSION_IDLE_S,
    lag_monitor: bool = True,
) -> None:
    """Trace every update `dispatcher` processes as a ``telegram.update <type>`` span; idempotent.

    `commands` are the command names recorded as themselves (any other command is ``other``);
    by default, the commands of the dispatcher's ``Command`` filters. `hash_user_id` turns the
    user id into the exported ``enduser.id``; by default
    :func:`tarot_monitoring.telemetry.hash_user_id`, keyed with the configured ``user_hash_key``.
    `record_activity` records each update's user, session (ended after `session_idle_s` without
    an update) and Telegram payment through ``tm.business``; `lag_monitor` starts the
    event-loop lag monitor.
    """
    if not isinstance(dispatcher, Dispatcher):
        raise TypeError(f"instrument_aiogram needs an aiogram Dispatcher, got {type(dispatcher).__name__}")
    names = normalize_commands(commands)
    if _ours(dispatcher.update.outer_middleware):
        return
    tracer = UpdateTracer(
        instrumentation=_INSTRUMENTATION,
        tracer_provider=tracer_provider,
        known_commands=fixed_commands(names) if names is not None else _RegisteredCommands(dispatcher),
        hash_user_id=hash_user_id,
        activity=UpdateActivity(enabled=record_activity, session_idle_s=session_idle_s),
        lag_monitor=LagMonitorStarter(enabled=lag_monitor),
    )
    middleware = _UpdateSpanMiddleware(tracer)
    _prepend(dispatcher.update.outer_middleware, middleware)
    _prepend(dispatcher.errors.outer_middleware, _ErrorRecorder())
    dispatcher.startup.register(middleware.on_startup)
    tracer.lag_monitor.ensure_started()  # at once when instrumenting inside the running loop


def uninstrument_aiogram(dispatcher: Dispatcher) -> None:
    """Remove what `instrument_aiogram` added; a no-op when `dispatcher` is not instrumented."""
    for manager in (dispatcher.update.outer_middleware, dispatcher.errors.outer_middleware):
        for middleware in _ours(manager):
            manager.unregister(middleware)
            if isinstance(middleware, _UpdateSpanMiddleware):
                dispatcher.startup.handlers[:] = [
                    handler
                    for handler in dispatcher.startup.handlers
                    if handler.callback != middleware.on_startup
                ]
