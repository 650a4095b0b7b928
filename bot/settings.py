"""Settings from the environment and an optional `.env` file (see .env.example)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_FLOWS = Path(__file__).resolve().parent.parent / "flows"


def _int_list(value: str) -> frozenset[int]:
    return frozenset(int(part) for part in value.replace(" ", "").split(",") if part.lstrip("-").isdigit())


@dataclass(frozen=True)
class Settings:
    token: str | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    data_dir: Path = Path("data")
    flows: Path = REPO_FLOWS
    default_flow: str | None = "cstream"
    log_level: str = "INFO"
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    retention_days: int = 90
    sqlite_synchronous: str = "NORMAL"
    database_url: str | None = None  # None: SQLite in the data folder (see `store_url`)
    database_pool: int = 10          # PostgreSQL connections per process (and per event loop)
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    keep_unrecognised: bool = False  # BOT_KEEP_UNRECOGNISED=1: keep 30 days what the recogniser could not route

    @property
    def db_path(self) -> Path:
        return self.data_dir / "progress.sqlite3"

    @property
    def store_url(self) -> str:
        """BOT_DATABASE_URL, or else `sqlite:///<BOT_DATA_DIR>/progress.sqlite3`."""
        return self.database_url or f"sqlite:///{self.db_path}"

    @classmethod
    def from_env(cls, env_file: str | None = ".env") -> "Settings":
        if env_file and Path(env_file).exists():
            from dotenv import load_dotenv
            load_dotenv(env_file, override=False)
        env = os.environ
        flows = Path(env.get("BOT_FLOWS") or (REPO_FLOWS if REPO_FLOWS.exists() else "flows"))
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN") or None,
            base_url=env.get("TELEGRAM_BASE_URL") or cls.base_url,
            base_file_url=env.get("TELEGRAM_BASE_FILE_URL") or cls.base_file_url,
            data_dir=Path(env.get("BOT_DATA_DIR") or "data"),
            flows=flows,
            default_flow=env.get("BOT_DEFAULT_FLOW") or "cstream",
            log_level=(env.get("BOT_LOG_LEVEL") or "INFO").upper(),
            admin_ids=_int_list(env.get("BOT_ADMIN_IDS", "")),
            retention_days=int(env.get("BOT_RETENTION_DAYS") or 90),
            sqlite_synchronous=(env.get("BOT_SQLITE_SYNCHRONOUS") or "NORMAL").upper(),
            database_url=env.get("BOT_DATABASE_URL") or None,
            database_pool=int(env.get("BOT_DATABASE_POOL") or 10),
            webhook_url=env.get("BOT_WEBHOOK_URL") or None,
            webhook_listen=env.get("BOT_WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=int(env.get("BOT_WEBHOOK_PORT") or 8443),
            webhook_secret=env.get("BOT_WEBHOOK_SECRET") or None,
            keep_unrecognised=env.get("BOT_KEEP_UNRECOGNISED", "") == "1",
        )
