"""A small reference bot: what a tarot bot's traffic looks like to the monitoring.

Simulated users start the bot, buy credits, spend them on readings and pay; each step is a real
`tm.operation()` of the spec's categories making real HTTP calls (httpx, auto-instrumented)
to the local fakes of OpenAI, Telegram and the payment provider. The ledger lives in an
in-memory SQLite database (the `database` category) and answers are cached in a dict (the
`cache` category), so the demo needs no PostgreSQL or Redis. Model latency varies per call,
drawn from a seeded log-normal distribution, so percentiles have something to show.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from dataclasses import dataclass, field

import httpx

import tarot_monitoring as tm
from tarot_monitoring.demo.fakes import FakeServices

SPREADS = ("single_card", "three_card", "celtic_cross")
CREDIT_VALUE = 0.1
"""What one credit sells for (the reference bot's shop), also its ``credit_value`` setting."""


@dataclass
class WorkloadResult:
    """What the bot did, counted by the bot itself: the demo checks the telemetry against it."""

    operations: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def count(self, category: str, *, failed: bool) -> None:
        self.operations[category] = self.operations.get(category, 0) + 1
        if failed:
            self.errors[category] = self.errors.get(category, 0) + 1

    def add(self, other: WorkloadResult) -> None:
        """Count `other`'s operations too (the demo's waves add up)."""
        for category, count in other.operations.items():
            self.operations[category] = self.operations.get(category, 0) + count
        for category, count in other.errors.items():
            self.errors[category] = self.errors.get(category, 0) + count


class ReferenceBot:
    """The bot's handlers, written as a bot team would write them with tarot_monitoring."""

    def __init__(self, fakes: FakeServices, *, seed: int, reading_latency_s: float) -> None:
        self.fakes = fakes
        self.random = random.Random(seed)
        self.reading_latency_s = reading_latency_s
        self.result = WorkloadResult()
        self.cache: dict[str, str] = {}
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE ledger (user_id INTEGER, delta INTEGER, kind TEXT)")
        self.db_lock = asyncio.Lock()
        self.client = httpx.AsyncClient(timeout=10.0)

    async def close(self) -> None:
        await self.client.aclose()
        self.db.close()

    async def _tracked(self, name: str, category: tm.Category, coro_factory: object) -> bool:
        """Run one operation and count it for the cross-check; False when it failed."""
        try:
            async with tm.operation(name, category=category):
                await coro_factory()  # type: ignore[operator]
        except Exception:
            self.result.count(category, failed=True)
            return False
        self.result.count(category, failed=False)
        return True

    # --- handlers -------------------------------------------------------------------------------
    async def start(self, user_id: int) -> None:
        async def register() -> None:
            if f"user:{user_id}" not in self.cache:
                await self._cache_set(f"user:{user_id}", "registered")
                tm.business.user_registered()
            await self._telegram("sendMessage", {"chat_id": user_id, "text": "Welcome to the tarot bot"})

        tm.business.user_seen(user_id)
        await self._tracked("user.start", "user", register)

    async def buy_credits(self, user_id: int, credits: int) -> None:
        amount = round(credits * CREDIT_VALUE, 2)

        async def charge() -> None:
            response = await self.client.post(
                f"{self.fakes.payments.base_url}/v1/payment_intents",
                data={
                    "amount": str(int(amount * 100)),
                    "currency": "eur",
                    "confirm": "true",
                    "payment_method": "pm_card_visa",
                },
                headers={"Authorization": f"Bearer {self.fakes.payments.api_key}"},
            )
            if response.status_code >= 400:
                tm.business.payment("failed", provider="stripe", amount=amount, currency="EUR")
                response.raise_for_status()
            tm.business.payment("succeeded", provider="stripe", amount=amount, currency="EUR")
            await self._ledger(user_id, credits, "purchase")
            tm.business.credit_transaction("purchase", credits)

        await self._tracked("payment.charge", "payment", charge)

    async def reading(self, user_id: int, spread: str) -> None:
        async def generate() -> None:
            async with tm.reading_cost(spread, credits=1):  # its OpenAI call priced beside the credit
                await generate_priced()

        async def generate_priced() -> None:
            await self._spend(user_id, 1)
            cached = await self._cache_get(f"reading:{spread}:{user_id}")
            if cached is None:
                # The model's own thinking time varies; the fake answers after its fixed latency.
                await asyncio.sleep(self.random.lognormvariate(0, 0.6) * self.reading_latency_s)
                response = await self.client.post(
                    f"{self.fakes.openai.base_url}/v1/chat/completions",
                    json={
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": f"{spread} reading"}],
                    },
                    headers={"Authorization": f"Bearer {self.fakes.openai.api_key}"},
                )
                response.raise_for_status()
                cached = response.json()["choices"][0]["message"]["content"]
                await self._cache_set(f"reading:{spread}:{user_id}", cached)
            await self._telegram("sendMessage", {"chat_id": user_id, "text": cached})

        ok = await self._tracked("reading.generate", "reading", generate)
        if ok:
            tm.business.reading_completed(spread=spread)
        else:
            tm.business.reading_failed(spread=spread, reason="generation_failed")

    # --- building blocks, each an operation of its own category ---------------------------------
    async def _spend(self, user_id: int, credits: int) -> None:
        async def spend() -> None:
            await self._ledger(user_id, -credits, "spend")
            tm.business.credit_transaction("spend", credits)

        if not await self._tracked("credit.spend", "credit", spend):
            raise RuntimeError("credit spend failed")

    async def _ledger(self, user_id: int, delta: int, kind: str) -> None:
        async def write() -> None:
            async with self.db_lock:
                await asyncio.to_thread(self._write_ledger, user_id, delta, kind)

        if not await self._tracked("ledger.write", "database", write):
            raise RuntimeError("ledger write failed")

    def _write_ledger(self, user_id: int, delta: int, kind: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO ledger VALUES (?, ?, ?)", (user_id, delta, kind))

    async def _cache_get(self, key: str) -> str | None:
        value: list[str | None] = [None]

        async def get() -> None:
            value[0] = self.cache.get(key)

        await self._tracked("cache.get", "cache", get)
        return value[0]

    async def _cache_set(self, key: str, text: str) -> None:
        async def put() -> None:
            self.cache[key] = text

        await self._tracked("cache.set", "cache", put)

    async def _telegram(self, method: str, payload: dict[str, object]) -> None:
        response = await self.client.post(f"{self.fakes.telegram.api_url}/{method}", json=payload)
        response.raise_for_status()


async def run_workload(
    fakes: FakeServices,
    *,
    users: int,
    rounds: int,
    seed: int = 7,
    reading_latency_s: float = 0.05,
    first_user: int = 100_000,
) -> WorkloadResult:
    """Drive `users` concurrent simulated users through `rounds` rounds each; bounded by design.

    Users are numbered from `first_user`, so successive waves can bring new users.
    """
    bot = ReferenceBot(fakes, seed=seed, reading_latency_s=reading_latency_s)
    rng = random.Random(seed)

    async def user_session(user_id: int) -> None:
        tm.business.session_started()
        try:
            await bot.start(user_id)
            await bot.buy_credits(user_id, credits=rng.choice((10, 25, 50)))
            for _ in range(rounds):
                await bot.reading(user_id, rng.choice(SPREADS))
        finally:
            tm.business.session_ended()

    try:
        await asyncio.gather(*(user_session(first_user + index) for index in range(users)))
    finally:
        await bot.close()
    return bot.result
