"""python-telegram-bot (v21+): one span around each update's whole processing by the Application.

Why wrap ``Application.process_update`` rather than add a ``TypeHandler`` in the lowest group:
a handler can open a span but has no place to close it (a closing handler in the highest group
never runs after ``ApplicationHandlerStop`` or an error), and with ``concurrent_updates`` unset
the update fetcher processes every update in one task, so a context attached by a handler would
leak into the next update. ``process_update`` is where PTB processes one update from start to
end, whether it came from the updater, a webhook, or the bot's own call, and with
``concurrent_updates`` each call runs in its own task, so each update's span is current only in
its own context.

PTB catches handler errors inside ``process_update`` and hands them to ``process_error``, so the
wrapper of ``process_error`` records them on the update span (the error handlers then run inside
it) and passes them on unchanged. Handlers with ``block=False`` (and any ``create_task(...,
update=update)`` made while the update is processed) run as tasks after ``process_update``
returns: the span stays open until those tasks are done, so it measures the whole processing.

Besides the span, each update's user, session and Telegram payment are recorded as business
telemetry (:mod:`._activity`), and the event-loop lag monitor is started by ``Application.start``
(which ``run_polling``/``run_webhook`` call inside the loop they create). The Bot API calls
themselves are traced by the httpx integration, which keeps ``getUpdates`` polls out of traces.

The wrappers live in a subclass made per instrumented application, set as its ``__class__``
(and set back by `uninstrument_ptb`): ``Application`` has ``__slots__``, so on Python 3.13+ its
methods cannot be replaced on the instance, and patching the class itself would touch every
application in the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine, Generator, Iterable
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
    current_scope,
    fixed_commands,
    normalize_commands,
    record_error,
)

try:
    from telegram import Update
    from telegram.ext import Application, BaseHandler, CommandHandler, ConversationHandler, Job
except ImportError as exc:  # pragma: no cover - exercised by a test that hides telegram
    raise MissingDependencyError("tarot_monitoring.integrations.ptb", "ptb", exc) from exc

__all__ = ["instrument_ptb", "uninstrument_ptb"]

_INSTRUMENTATION: Final = "tarot_monitoring.integrations.ptb"
_STATE: Final = "_tarot_monitoring_state"
# Update types whose message text CommandHandler reads (with its default filters, message and
# edited_message; the rest only when the bot asks for them).
_MESSAGE_TYPES: Final = frozenset(
    {
        Update.MESSAGE,
        Update.EDITED_MESSAGE,
        Update.CHANNEL_POST,
        Update.EDITED_CHANNEL_POST,
        Update.BUSINESS_MESSAGE,
        Update.EDITED_BUSINESS_MESSAGE,
    }
)

_App = Application[Any, Any, Any, Any, Any, Any]
_AnyHandler = BaseHandler[Any, Any, Any]


def _handler_commands(handlers: Iterable[_AnyHandler]) -> Generator[str, None, None]:
    for handler in handlers:
        if isinstance(handler, CommandHandler):
            yield from handler.commands
        elif isinstance(handler, ConversationHandler):
            yield from _handler_commands(handler.entry_points)
            for state_handlers in handler.states.values():
                yield from _handler_commands(state_handlers)
            yield from _handler_commands(handler.fallbacks)


class _RegisteredCommands:
    """The commands of the application's CommandHandlers (also inside ConversationHandlers)."""

    def __init__(self, application: _App) -> None:
        self._application = application
        self._signature = -1
        self._names: frozenset[str] = frozenset()

    def __call__(self) -> Collection[str]:
        handlers = self._application.handlers
        signature = sum(len(group) for group in handlers.values())
        if signature != self._signature:
            self._names = command_names(
                _handler_commands(handler for group in handlers.values() for handler in group)
            )
            self._signature = signature
        return self._names


def _describe(update: Update) -> UpdateInfo:
    update_type = next(
        (kind for kind in Update.ALL_TYPES if getattr(update, kind, None) is not None), UNKNOWN_UPDATE
    )
    chat = update.effective_chat
    chat_type = chat.type if chat is not None else None
    if chat_type is None and update.inline_query is not None:
        chat_type = update.inline_query.chat_type
    user = update.effective_user
    text = None
    if update_type in _MESSAGE_TYPES:
        message = getattr(update, update_type)
        text = message.text  # CommandHandler reads only the text, never a caption
    return UpdateInfo(
        update_type=update_type,
        chat_type=chat_type,
        user_id=user.id if user is not None else None,
        text=text,
        payment=_payment(update),
    )


def _payment(update: Update) -> TelegramPayment | None:
    query = update.pre_checkout_query
    if query is not None:
        return TelegramPayment("pre_checkout", query.currency, query.total_amount)
    message = update.message
    if message is None:
        return None
    paid = message.successful_payment
    if paid is not None:
        return TelegramPayment("successful", paid.currency, paid.total_amount)
    refunded = getattr(message, "refunded_payment", None)  # Bot API 7.10 and later
    if refunded is not None:
        return TelegramPayment("refunded", refunded.currency, refunded.total_amount)
    return None


def _instrumented_class(original: type[_App], tracer: UpdateTracer) -> type[_App]:
    async def process_update(self: _App, update: object) -> None:
        if not isinstance(update, Update):  # custom objects in the update queue are not updates
            return await original.process_update(self, update)
        return await tracer.run(
            update, lambda: _describe(update), lambda: original.process_update(self, update)
        )

    async def process_error(
        self: _App,
        update: object | None,
        error: Exception,
        job: Job[Any] | None = None,
        coroutine: Any = None,
    ) -> bool:
        if update is not None:
            record_error(update, error)
        return await original.process_error(self, update, error, job, coroutine)

    def create_task(
        self: _App,
        coroutine: Coroutine[Any, Any, Any],
        update: object | None = None,
        *,
        name: str | None = None,
    ) -> asyncio.Task[Any]:
        task = original.create_task(self, coroutine, update, name=name)
        scope = current_scope(update) if update is not None else None
        if scope is not None:
            scope.hold(task)
        return task

    async def start(self: _App) -> None:
        tracer.lag_monitor.ensure_started()
        await original.start(self)

    async def stop(self: _App) -> None:
        await original.stop(self)
        await tracer.lag_monitor.stop()  # run_polling()/run_webhook() close the loop next

    namespace = {
        "__slots__": (),
        "__module__": original.__module__,
        "__qualname__": original.__qualname__,
        "__doc__": original.__doc__,
        _STATE: original,
        "process_update": process_update,
        "process_error": process_error,
        "create_task": create_task,
        "start": start,
        "stop": stop,
    }
    return type(original.__name__, (original,), namespace)


def instrument_ptb(
    application: _App,
    *,
    tracer_provider: TracerProvider | None = None,
    commands: Iterable[str] | None = None,
    hash_user_id: HashUserId | None = None,
    record_activity: bool = True,
    session_idle_s: float = DEFAULT_SESSION_IDLE_S,
    lag_monitor: bool = True,
) -> None:
    """Trace every update `application` processes as a ``telegram.update <type>`` span; idempotent.

    `commands` are the command names recorded as themselves (any other command is ``other``);
    by default, the commands of the application's CommandHandlers. `hash_user_id` turns the
    user id into the exported ``enduser.id``; by default
    :func:`tarot_monitoring.telemetry.hash_user_id`, keyed with the configured ``user_hash_key``.
    `record_activity` records each update's user, session (ended after `session_idle_s` without
    an update) and Telegram payment through ``tm.business``; `lag_monitor` starts the
    event-loop lag monitor.
    """
    if not isinstance(application, Application):
        raise TypeError(f"instrument_ptb needs a telegram.ext.Application, got {type(application).__name__}")
    names = normalize_commands(commands)
    if _STATE in vars(type(application)):
        return
    tracer = UpdateTracer(
        instrumentation=_INSTRUMENTATION,
        tracer_provider=tracer_provider,
        known_commands=fixed_commands(names) if names is not None else _RegisteredCommands(application),
        hash_user_id=hash_user_id,
        activity=UpdateActivity(enabled=record_activity, session_idle_s=session_idle_s),
        lag_monitor=LagMonitorStarter(enabled=lag_monitor),
    )
    application.__class__ = _instrumented_class(type(application), tracer)
    tracer.lag_monitor.ensure_started()  # at once when instrumenting inside the running loop


def uninstrument_ptb(application: _App) -> None:
    """Undo `instrument_ptb`; a no-op when `application` is not instrumented."""
    original = vars(type(application)).get(_STATE)
    if original is not None:
        application.__class__ = original
