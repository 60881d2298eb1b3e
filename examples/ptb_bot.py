"""A small tarot bot on python-telegram-bot 22, adopting tarot-monitoring with exactly the README's lines.

Readings from OpenAI (plain httpx calls to the REST API), credits in PostgreSQL (SQLAlchemy async
on asyncpg), sessions and a reading cache in Redis, credit packs sold for Telegram Stars. The
lines marked ``# tarot-monitoring`` are the README's four adoption lines (``configure()`` may come
before or after ``logging.basicConfig``); those marked ``# tarot-monitoring: manual`` the manual
calls that give the reading category and the readings and credits panels. Active users, sessions
and the Stars payment are recorded by ``instrument_ptb`` without bot code (docs/adopting.md).
Everything else is an ordinary bot.

Run it as a bot is run (see examples/README.md for every variable)::

    BOT_TOKEN=... DATABASE_URL=postgresql://... REDIS_URL=redis://... python examples/ptb_bot.py
    BOT_MODE=webhook WEBHOOK_URL=https://bot.example/webhook ... python examples/ptb_bot.py
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import httpx
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.constants import ChatAction
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

import tarot_monitoring as tm  # tarot-monitoring
from tarot_core import (
    PACK_CREDITS,
    PACK_PAYLOAD,
    PACK_STARS,
    READING_PROMPT,
    Settings,
    Store,
    card_image,
    draw_card,
)

logger = logging.getLogger("tarot_bot")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
openai_http = httpx.AsyncClient(
    base_url=OPENAI_BASE_URL,
    headers={"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"},
    timeout=30,
)

MENU = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Draw a card", callback_data="draw")],
        [InlineKeyboardButton(f"Buy {PACK_CREDITS} readings", callback_data="buy")],
    ]
)


def store_of(holder: ContextTypes.DEFAULT_TYPE | Application) -> Store:  # type: ignore[type-arg]
    store: Store = holder.bot_data["store"]
    return store


@tm.operation("reading.generate", category="reading")  # tarot-monitoring: manual
async def ask_the_cards(context: ContextTypes.DEFAULT_TYPE, card: str, question: str) -> str:
    with tm.reading_cost("one_card", credits=1):  # tarot-monitoring: manual (LLM cost per reading)
        store, settings = store_of(context), context.bot_data["settings"]
        cached = await store.cached_reading(card, question)
        if cached is not None:
            return cached
        response = await openai_http.post(
            "/chat/completions",
            json={
                "model": settings.openai_model,
                "messages": [
                    {"role": "system", "content": READING_PROMPT},
                    {
                        "role": "user",
                        "content": f"Card: {card}. Question: {question or 'What do I need to know today?'}",
                    },
                ],
                "max_tokens": 200,
            },
        )
        response.raise_for_status()
        reading: str = response.json()["choices"][0]["message"]["content"]
        await store.cache_reading(card, question, reading)
        return reading


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None
    assert update.message is not None
    user = update.effective_user
    credits = await store_of(context).start_session(user.id)
    logger.info("user %s (%s) started; %d credits", user.id, user.full_name, credits)
    await update.message.reply_text(
        f"Welcome to the tarot table. You have {credits} readings.\n"
        "Ask with /reading <your question>, or draw a card.",
        reply_markup=MENU,
    )


async def reading(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None
    assert update.message is not None
    user_id = update.effective_user.id
    question = " ".join(context.args or [])
    if not await store_of(context).spend_credit(user_id):
        await update.message.reply_text("You have no readings left. /buy more with Stars.")
        return
    tm.business.credit_transaction("spend", 1)  # tarot-monitoring: manual
    await context.bot.send_chat_action(update.message.chat_id, ChatAction.TYPING)
    card = draw_card()
    try:
        text = await ask_the_cards(context, card, question)
    except httpx.HTTPError:
        logger.exception("reading failed for user %s asking %r", user_id, question)
        tm.business.reading_failed(spread="one_card", reason="openai_error")  # tarot-monitoring: manual
        await update.message.reply_text("The cards are silent right now. Try again in a minute.")
        return
    logger.info("reading for user %s: %r -> %s", user_id, question, card)
    await update.message.reply_text(f"🔮 {card}\n\n{text}", reply_markup=MENU)
    tm.business.reading_completed(spread="one_card")  # tarot-monitoring: manual


async def draw(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Shuffling...")
    await query.edit_message_reply_markup(reply_markup=None)
    if not await store_of(context).spend_credit(query.from_user.id):
        await context.bot.send_message(query.from_user.id, "You have no readings left. /buy more with Stars.")
        return
    tm.business.credit_transaction("spend", 1)  # tarot-monitoring: manual
    card = draw_card()
    text = await ask_the_cards(context, card, "")
    await context.bot.send_photo(
        query.from_user.id, card_image(card), caption=f"{card}\n\n{text}"[:1024], filename=f"{card}.png"
    )
    tm.business.reading_completed(spread="one_card")  # tarot-monitoring: manual


async def buy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    assert update.effective_user is not None
    await context.bot.send_invoice(
        chat_id=update.effective_user.id,
        title=f"{PACK_CREDITS} readings",
        description=f"{PACK_CREDITS} tarot readings",
        payload=PACK_PAYLOAD,
        currency="XTR",
        prices=[LabeledPrice(f"{PACK_CREDITS} readings", PACK_STARS)],
    )


async def pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.pre_checkout_query
    assert query is not None
    if query.invoice_payload == PACK_PAYLOAD and query.currency == "XTR":
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message="This offer has expired.")


async def paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None
    assert message.successful_payment is not None
    assert update.effective_user is not None
    payment, user_id = message.successful_payment, update.effective_user.id
    credits = await store_of(context).add_credits(user_id, PACK_CREDITS, payment.telegram_payment_charge_id)
    tm.business.credit_transaction("purchase", PACK_CREDITS)  # tarot-monitoring: manual
    logger.info("user %s paid %d %s; %d credits", user_id, payment.total_amount, payment.currency, credits)
    await message.reply_text(f"Thank you! You now have {credits} readings.")


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None
    assert update.message is not None
    await update.message.reply_text(
        f"You have {await store_of(context).balance(update.effective_user.id)} readings."
    )


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    await store_of(application).create_tables()
    await application.bot.set_my_commands(
        [
            BotCommand("start", "Begin"),
            BotCommand("reading", "Ask the cards a question"),
            BotCommand("buy", f"Buy {PACK_CREDITS} readings"),
            BotCommand("balance", "Readings left"),
        ]
    )
    logger.info("bot started in %s mode", application.bot_data["settings"].mode)


async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    await store_of(application).close()
    await openai_http.aclose()
    logger.info("bot stopped")


def main() -> None:
    settings = Settings.from_env()
    tm.configure(service_name="tarot-bot")  # tarot-monitoring
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(settings.log_file), logging.StreamHandler()],
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # PTB's docs: httpx logs every long poll
    builder = (
        Application.builder().token(settings.bot_token).post_init(post_init).post_shutdown(post_shutdown)
    )
    if settings.telegram_api_url:
        builder = builder.base_url(f"{settings.telegram_api_url}/bot").base_file_url(
            f"{settings.telegram_api_url}/file/bot"
        )
    application = builder.build()
    application.bot_data.update(store=Store(settings), settings=settings)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("reading", reading))
    application.add_handler(CommandHandler("buy", buy))
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CallbackQueryHandler(draw, pattern="^draw$"))
    application.add_handler(CallbackQueryHandler(buy, pattern="^buy$"))
    application.add_handler(PreCheckoutQueryHandler(pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
    tm.instrument_ptb(application)  # tarot-monitoring
    try:
        if settings.mode == "webhook":
            application.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                secret_token=settings.webhook_secret,
                webhook_url=settings.webhook_url,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        tm.shutdown()  # tarot-monitoring


if __name__ == "__main__":
    main()
