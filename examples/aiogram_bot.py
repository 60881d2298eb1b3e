"""A small tarot bot on aiogram 3, adopting tarot-monitoring with exactly the README's lines.

Readings from OpenAI (the official SDK), credits in PostgreSQL (SQLAlchemy async on asyncpg),
sessions and a reading cache in Redis, credit packs sold for Telegram Stars. The lines marked
``# tarot-monitoring`` are the README's four adoption lines (``configure()`` may come before or
after ``logging.basicConfig``); those marked ``# tarot-monitoring: manual`` the manual calls that
give the reading category and the readings and credits panels. Active users, sessions and the
Stars payment are recorded by ``instrument_aiogram`` without bot code (docs/adopting.md).
Everything else is an ordinary bot.

Run it as a bot is run (see examples/README.md for every variable)::

    BOT_TOKEN=... DATABASE_URL=postgresql://... REDIS_URL=redis://... python examples/aiogram_bot.py
    BOT_MODE=webhook WEBHOOK_URL=https://bot.example/webhook ... python examples/aiogram_bot.py
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import openai
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

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
router = Router()
openai_client = openai.AsyncOpenAI()  # OPENAI_API_KEY and OPENAI_BASE_URL from the environment

MENU = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Draw a card", callback_data="draw")],
        [InlineKeyboardButton(text=f"Buy {PACK_CREDITS} readings", callback_data="buy")],
    ]
)


@tm.operation("reading.generate", category="reading")  # tarot-monitoring: manual
async def ask_the_cards(settings: Settings, store: Store, card: str, question: str) -> str:
    with tm.reading_cost("one_card", credits=1):  # tarot-monitoring: manual (LLM cost per reading)
        cached = await store.cached_reading(card, question)
        if cached is not None:
            return cached
        completion = await openai_client.chat.completions.create(
            model=settings.openai_model,
            messages=[
                {"role": "system", "content": READING_PROMPT},
                {
                    "role": "user",
                    "content": f"Card: {card}. Question: {question or 'What do I need to know today?'}",
                },
            ],
            max_tokens=200,
        )
        reading = completion.choices[0].message.content or ""
        await store.cache_reading(card, question, reading)
        return reading


@router.message(CommandStart())
async def start(message: Message, store: Store) -> None:
    assert message.from_user is not None
    credits = await store.start_session(message.from_user.id)
    logger.info(
        "user %s (%s) started; %d credits", message.from_user.id, message.from_user.full_name, credits
    )
    await message.answer(
        f"Welcome to the tarot table. You have {credits} readings.\n"
        "Ask with /reading <your question>, or draw a card.",
        reply_markup=MENU,
    )


@router.message(Command("reading"))
async def reading(
    message: Message, command: CommandObject, store: Store, settings: Settings, bot: Bot
) -> None:
    assert message.from_user is not None
    question = command.args or ""
    if not await store.spend_credit(message.from_user.id):
        await message.answer("You have no readings left. /buy more with Stars.")
        return
    tm.business.credit_transaction("spend", 1)  # tarot-monitoring: manual
    await bot.send_chat_action(message.chat.id, "typing")
    card = draw_card()
    try:
        text = await ask_the_cards(settings, store, card, question)
    except openai.APIError:
        logger.exception("reading failed for user %s asking %r", message.from_user.id, question)
        tm.business.reading_failed(spread="one_card", reason="openai_error")  # tarot-monitoring: manual
        await message.answer("The cards are silent right now. Try again in a minute.")
        return
    logger.info("reading for user %s: %r -> %s", message.from_user.id, question, card)
    await message.answer(f"🔮 {card}\n\n{text}", reply_markup=MENU)
    tm.business.reading_completed(spread="one_card")  # tarot-monitoring: manual


@router.callback_query(F.data == "draw")
async def draw(query: CallbackQuery, store: Store, settings: Settings, bot: Bot) -> None:
    await query.answer("Shuffling...")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if not await store.spend_credit(query.from_user.id):
        await bot.send_message(query.from_user.id, "You have no readings left. /buy more with Stars.")
        return
    tm.business.credit_transaction("spend", 1)  # tarot-monitoring: manual
    card = draw_card()
    text = await ask_the_cards(settings, store, card, "")
    await bot.send_photo(
        query.from_user.id,
        BufferedInputFile(card_image(card), f"{card}.png"),
        caption=f"{card}\n\n{text}"[:1024],
    )
    tm.business.reading_completed(spread="one_card")  # tarot-monitoring: manual


@router.message(Command("buy"))
@router.callback_query(F.data == "buy")
async def buy(event: Message | CallbackQuery, bot: Bot) -> None:
    if isinstance(event, CallbackQuery):
        await event.answer()
    await bot.send_invoice(
        chat_id=event.from_user.id if event.from_user else 0,
        title=f"{PACK_CREDITS} readings",
        description=f"{PACK_CREDITS} tarot readings",
        payload=PACK_PAYLOAD,
        currency="XTR",
        prices=[LabeledPrice(label=f"{PACK_CREDITS} readings", amount=PACK_STARS)],
    )


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery) -> None:
    if query.invoice_payload == PACK_PAYLOAD and query.currency == "XTR":
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message="This offer has expired.")


@router.message(F.successful_payment)
async def paid(message: Message, store: Store) -> None:
    assert message.from_user is not None
    assert message.successful_payment is not None
    payment = message.successful_payment
    credits = await store.add_credits(message.from_user.id, PACK_CREDITS, payment.telegram_payment_charge_id)
    tm.business.credit_transaction("purchase", PACK_CREDITS)  # tarot-monitoring: manual
    logger.info(
        "user %s paid %d %s; %d credits",
        message.from_user.id,
        payment.total_amount,
        payment.currency,
        credits,
    )
    await message.answer(f"Thank you! You now have {credits} readings.")


@router.message(Command("balance"))
async def balance(message: Message, store: Store) -> None:
    assert message.from_user is not None
    await message.answer(f"You have {await store.balance(message.from_user.id)} readings.")


async def on_startup(bot: Bot, store: Store, settings: Settings) -> None:
    await store.create_tables()
    await bot.set_my_commands(
        [
            BotCommand(command="start", description="Begin"),
            BotCommand(command="reading", description="Ask the cards a question"),
            BotCommand(command="buy", description=f"Buy {PACK_CREDITS} readings"),
            BotCommand(command="balance", description="Readings left"),
        ]
    )
    if settings.mode == "webhook":
        await bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret)
    else:
        await bot.delete_webhook()
    logger.info("bot started in %s mode", settings.mode)


async def on_shutdown(store: Store) -> None:
    await store.close()
    logger.info("bot stopped")


def main() -> None:
    settings = Settings.from_env()
    tm.configure(service_name="tarot-bot")  # tarot-monitoring
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(settings.log_file), logging.StreamHandler()],
    )
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else None
    )
    bot = Bot(settings.bot_token, session=session)
    dispatcher = Dispatcher(store=Store(settings), settings=settings)
    dispatcher.include_router(router)
    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
    tm.instrument_aiogram(dispatcher)  # tarot-monitoring
    try:
        if settings.mode == "webhook":
            app = web.Application()
            handler = SimpleRequestHandler(
                dispatcher=dispatcher, bot=bot, secret_token=settings.webhook_secret
            )
            handler.register(app, path=urlsplit(settings.webhook_url).path or "/")
            setup_application(app, dispatcher, bot=bot)
            web.run_app(app, host=settings.webhook_listen, port=settings.webhook_port, print=None)
        else:
            asyncio.run(dispatcher.start_polling(bot))
    finally:
        tm.shutdown()  # tarot-monitoring


if __name__ == "__main__":
    main()
