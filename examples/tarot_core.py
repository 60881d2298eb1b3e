"""What both example bots share and know nothing of telemetry: settings from the environment, the
credit ledger in PostgreSQL (SQLAlchemy async on asyncpg), sessions and a reading cache in Redis,
and the tarot deck.

It is written the way tarot bots in the wild write it, on purpose: the kit must work on such
code as it is, with only the README's adoption lines added in the bots' entry points.
"""

from __future__ import annotations

import hashlib
import os
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as redis
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FREE_CREDITS = 3
PACK_CREDITS = 5
PACK_STARS = 50  # Telegram Stars (XTR) for one pack
PACK_PAYLOAD = f"credits:{PACK_CREDITS}"
READING_PROMPT = "You are a warm, concise tarot reader. Read the card for the question in three sentences."
DECK = (
    "The Fool", "The Magician", "The High Priestess", "The Empress", "The Emperor", "The Hierophant",
    "The Lovers", "The Chariot", "Strength", "The Hermit", "Wheel of Fortune", "Justice",
    "The Hanged Man", "Death", "Temperance", "The Devil", "The Tower", "The Star", "The Moon",
    "The Sun", "Judgement", "The World",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The bot's configuration, from the environment as the bot's README documents it."""

    bot_token: str
    telegram_api_url: str | None  # a local Bot API server (or the package's fake); None: api.telegram.org
    database_url: str
    database_schema: str | None
    redis_url: str
    openai_model: str
    mode: str  # "polling" or "webhook"
    webhook_url: str  # the public URL Telegram posts to, e.g. https://bot.example/webhook
    webhook_listen: str
    webhook_port: int
    webhook_secret: str
    log_file: str

    @classmethod
    def from_env(cls) -> Settings:
        database_url = os.environ["DATABASE_URL"]
        if database_url.startswith(("postgres://", "postgresql://")):  # the form most hosts hand out
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        mode = os.environ.get("BOT_MODE", "polling")
        if mode not in ("polling", "webhook"):
            raise SystemExit(f"BOT_MODE must be polling or webhook, not {mode!r}")
        return cls(
            bot_token=os.environ["BOT_TOKEN"],
            telegram_api_url=os.environ.get("TELEGRAM_API_URL") or None,
            database_url=database_url,
            database_schema=os.environ.get("DATABASE_SCHEMA") or None,
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            openai_model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            mode=mode,
            webhook_url=os.environ.get("WEBHOOK_URL", ""),
            webhook_listen=os.environ.get("WEBHOOK_LISTEN", "127.0.0.1"),
            webhook_port=int(os.environ.get("WEBHOOK_PORT", "8080")),
            webhook_secret=os.environ.get("WEBHOOK_SECRET", "change-me"),
            log_file=os.environ.get("LOG_FILE", "bot.log"),
        )


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credits: Mapped[int] = mapped_column(Integer, default=FREE_CREDITS)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerEntry(Base):
    __tablename__ = "ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(ForeignKey("users.telegram_id"))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    charge_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class Store:
    """The credit ledger (PostgreSQL) and the sessions and reading cache (Redis)."""

    def __init__(self, settings: Settings) -> None:
        connect_args = {}
        if settings.database_schema:
            connect_args["server_settings"] = {"search_path": settings.database_schema}
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url, pool_size=5, connect_args=connect_args
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self._schema = settings.database_schema

    async def create_tables(self) -> None:
        async with self.engine.begin() as connection:
            if self._schema:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"'))
            await connection.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()

    async def start_session(self, telegram_id: int) -> int:
        """The user's row (created with the free credits on first contact) and a fresh session."""
        async with self.sessions.begin() as session:
            user = await session.get(User, telegram_id)
            if user is None:
                user = User(telegram_id=telegram_id, credits=FREE_CREDITS)
                session.add(user)
                await session.flush()  # the ledger row refers to it
                session.add(LedgerEntry(telegram_id=telegram_id, delta=FREE_CREDITS, reason="welcome"))
        await self.redis.hset(f"session:{telegram_id}", mapping={"state": "idle", "since": _now()})
        await self.redis.expire(f"session:{telegram_id}", 86400)
        return user.credits

    async def balance(self, telegram_id: int) -> int:
        async with self.sessions() as session:
            credits = await session.scalar(select(User.credits).where(User.telegram_id == telegram_id))
        return credits or 0

    async def spend_credit(self, telegram_id: int) -> bool:
        """Take one credit for a reading; False when the user has none left."""
        async with self.sessions.begin() as session:
            user = await session.get(User, telegram_id, with_for_update=True)
            if user is None or user.credits <= 0:
                return False
            user.credits -= 1
            session.add(LedgerEntry(telegram_id=telegram_id, delta=-1, reason="reading"))
        await self.redis.hset(f"session:{telegram_id}", "state", "reading")
        return True

    async def add_credits(self, telegram_id: int, credits: int, charge_id: str) -> int:
        async with self.sessions.begin() as session:
            user = await session.get(User, telegram_id, with_for_update=True)
            if user is None:
                user = User(telegram_id=telegram_id, credits=0)
                session.add(user)
                await session.flush()
            user.credits += credits
            session.add(
                LedgerEntry(telegram_id=telegram_id, delta=credits, reason="purchase", charge_id=charge_id)
            )
        return user.credits

    async def cached_reading(self, card: str, question: str) -> str | None:
        cached = await self.redis.get(_cache_key(card, question))
        return cached if isinstance(cached, str) else None

    async def cache_reading(self, card: str, question: str, reading: str) -> None:
        await self.redis.set(_cache_key(card, question), reading, ex=3600)


def draw_card() -> str:
    return random.choice(DECK)


def card_image(card: str) -> bytes:
    """A small PNG of one colour per card (a real bot sends its card art)."""
    shade = zlib.crc32(card.encode()) & 0xFFFFFF
    width = height = 8
    raw = b"".join(b"\x00" + shade.to_bytes(3, "big") * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _cache_key(card: str, question: str) -> str:
    return "reading:" + hashlib.sha256(f"{card}|{question.strip().lower()}".encode()).hexdigest()[:32]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
