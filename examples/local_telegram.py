"""Talk to an example bot without Telegram: the package's fake Telegram and fake OpenAI on fixed
loopback ports, and a prompt that sends what you type as a user's message and prints what the bot
answers (messages, photos, invoices; ``/pay`` pays the last invoice with Stars).

    python examples/local_telegram.py            # prints the variables to export for the bot
    python examples/aiogram_bot.py               # in another terminal, with those variables

Nothing leaves the machine; the OpenAI answers are the fake's.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from tarot_monitoring.demo.fakes import FakeOpenAI, FakeTelegram
from tarot_monitoring.demo.fakes.telegram import BotApiCall

USER_ID = 1001
SHOWN = ("sendMessage", "sendPhoto", "sendInvoice", "editMessageText", "answerCallbackQuery")


def describe(call: BotApiCall) -> str:
    params = call.params
    if call.method == "sendPhoto":
        return f"[photo] {params.get('caption', '')}"
    if call.method == "sendInvoice":
        price = f"{params.get('prices')} {params.get('currency')}"
        return f"[invoice] {params.get('title')} for {price} (/pay to pay)"
    if call.method == "answerCallbackQuery":
        return f"[button answered] {params.get('text', '')}"
    return str(params.get("text", ""))


def last_sent(telegram: FakeTelegram, having: str) -> dict[str, Any] | None:
    """The last message the bot sent that has `having` (an invoice, inline buttons)."""
    for call in reversed(telegram.calls()):
        if call.ok and isinstance(call.result, dict) and having in call.result:
            return call.result
    return None


def show_replies(telegram: FakeTelegram, stop: threading.Event) -> None:
    seen = 0
    while not stop.is_set():
        calls = telegram.calls()
        for call in calls[seen:]:
            if call.ok and call.method in SHOWN:
                print(f"\nbot> {describe(call)}\nyou> ", end="", flush=True)
        seen = len(calls)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--telegram-port", type=int, default=8081)
    parser.add_argument("--openai-port", type=int, default=8082)
    args = parser.parse_args()
    with FakeTelegram(port=args.telegram_port) as telegram, FakeOpenAI(port=args.openai_port) as openai:
        print("export these for the bot:")
        print(f"  export BOT_TOKEN={telegram.token}")
        print(f"  export TELEGRAM_API_URL={telegram.base_url}")
        print(f"  export OPENAI_BASE_URL={openai.base_url}/v1 OPENAI_API_KEY={openai.api_key}")
        print("type messages as a user (/start, /reading <question>, /buy, /pay, draw); Ctrl-D to quit")
        stop = threading.Event()
        threading.Thread(target=show_replies, args=(telegram, stop), daemon=True).start()
        try:
            for line in sys.stdin:
                text = line.strip()
                if text == "/pay" and (invoice := last_sent(telegram, "invoice")) is not None:
                    telegram.pay_invoice(invoice, user_id=USER_ID)
                elif text == "draw" and (menu := last_sent(telegram, "reply_markup")) is not None:
                    telegram.push_callback_query(menu, "draw", user_id=USER_ID)
                elif text:
                    telegram.push_message(text, user_id=USER_ID, chat_id=USER_ID)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()


if __name__ == "__main__":
    main()
