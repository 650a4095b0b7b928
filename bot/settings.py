"""Settings from the environment and an optional `.env` file (see .env.example), checked at start.

`Settings.from_env` reads every setting, collects every problem, and raises one
`SettingsError` listing them all (the command line prints one line each and exits 2).
Relative paths (BOT_DATA_DIR, BOT_FLOWS, a relative sqlite:/// URL) are resolved against the
folder of the .env file that was read, else the current folder.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from .errors import BotError

QUIET = (21 * 60, 9 * 60)  # minutes since midnight, Paris: no reminder from 21:00 to 09:00 (BOT_QUIET_HOURS)

PROJECT = Path(__file__).resolve().parent.parent  # the repository root when run from a checkout
# The flows: the repository's folder in a checkout; the copy shipped in the package once installed.
REPO_FLOWS = PROJECT / "flows" if (PROJECT / "flows").is_dir() else Path(__file__).resolve().parent / "flows_data"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook secret_token
TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
# BOT_* variables read by the test suite, not by the bot: never reported as unknown.
TEST_ONLY = frozenset({"BOT_REQUIRE_POSTGRES", "BOT_TEST_POSTGRES_URL"})


class SettingsError(BotError):
    """Settings that cannot be used: `problems` holds one line per setting at fault."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def find_env_file(explicit: str | Path | None = None) -> Path | None:
    """The .env to read: the one given, else `.env` in the current folder, else beside the
    project (the folder holding `flows/`); None when there is none."""
    if explicit is not None:
        return Path(explicit)
    for candidate in (Path.cwd() / ".env", PROJECT / ".env"):
        if candidate.is_file():
            return candidate
    return None


def parse_quiet(text: str) -> tuple[int, int] | None:
    """'21:00-09:00' -> (1260, 540); 'off' or '' -> None; ValueError otherwise."""
    text = (text or "").strip().lower()
    if text in ("", "off", "none", "0"):
        return None
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?", text)
    if not match:
        raise ValueError(text)
    start_h, start_m, end_h, end_m = (int(g or 0) for g in match.groups())
    if start_h > 23 or end_h > 23 or start_m > 59 or end_m > 59:
        raise ValueError(text)
    return start_h * 60 + start_m, end_h * 60 + end_m


def unknown_settings(env, known: set[str]) -> list[str]:
    """One line per BOT_* variable the bot does not read, with the closest setting it does."""
    import difflib
    lines = []
    for name in sorted(n for n in env if n.startswith("BOT_") and n not in known and n not in TEST_ONLY):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f": did you mean {close[0]}?" if close else ": no setting has this name (see .env.example)"
        lines.append(f"unknown setting {name}{hint}")
    return lines


class _Reader:
    """Reads settings from a mapping and notes every problem instead of stopping at the first."""

    def __init__(self, env, base: Path):
        self.env, self.base = env, base
        self.problems: list[str] = []
        self.asked: set[str] = set()  # every name read: the others starting BOT_ are typos

    def text(self, name: str, default: str | None = None) -> str | None:
        self.asked.add(name)
        value = (self.env.get(name) or "").strip()
        return value or default

    def integer(self, name: str, default: int, low: int, high: int | None = None, what: str = "a number") -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            bound = f" from {low} to {high}" if high is not None else f" of at least {low}"
            self.problems.append(f"{name}={value!r}: expected {what}{bound} (e.g. {name}={default})")
            return default
        return number

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name) or default
        value = value.upper() if allowed[0].isupper() else value.lower()
        if value not in allowed:
            self.problems.append(f"{name}={self.text(name)!r}: expected one of {', '.join(allowed)}")
            return default
        return value

    def path(self, name: str, default: str) -> Path:
        path = Path(self.text(name) or default).expanduser()
        return path if path.is_absolute() else self.base / path

    def parsed(self, name: str, parse, default=None):
        """`name`'s value through `parse`, or `default` when unset; a ValueError from `parse`
        is a problem noted in its words ({name} and {value} filled in)."""
        value = self.text(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problems.append(str(exc).format(name=name, value=repr(value)))
            return default

    def store_url(self) -> str | None:
        """BOT_DATABASE_URL, a relative SQLite file made absolute from the settings' folder."""
        def parse(url: str) -> str:
            scheme = url.partition(":")[0].lower()
            if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
                file = Path(url[len("sqlite:///"):])
                return f"sqlite:///{file if file.is_absolute() else self.base / file}"
            if not (scheme in ("postgresql", "postgres") and url.startswith(scheme + "://")):
                raise ValueError(f"{{name}}: unknown store URL {scheme + ':...' if scheme else ''}; use "
                                 "sqlite:///path/to/file.sqlite3 or postgresql://user@host:5432/database")
            return url
        return self.parsed("BOT_DATABASE_URL", parse)

    def ids(self, name: str) -> frozenset[int]:
        """Comma-separated Telegram user ids; each one that is not a number is a problem."""
        ids = set()
        for part in (self.text(name) or "").split(","):
            part = part.strip()
            if part and not part.lstrip("-").isdigit():
                self.problems.append(f"{name}: {part!r} is not a Telegram user id (numbers, comma-separated)")
            elif part:
                ids.add(int(part))
        return frozenset(ids)


def _checked(test, problem: str):
    """A parser for `_Reader.parsed`: the value as is when `test(value)`, else ValueError(problem)."""
    def parse(value: str) -> str:
        if not test(value):
            raise ValueError(problem)
        return value
    return parse


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ValueError("{name}={value}: expected seconds, 0 or more (e.g. 60)")
    return seconds


def _quiet(value: str) -> tuple[int, int] | None:
    try:
        return parse_quiet(value)
    except ValueError:
        raise ValueError("{name}={value}: expected two times like 21:00-09:00, or off") from None


def _web(value: str) -> bool:
    return urlparse(value).scheme in ("http", "https") and bool(urlparse(value).netloc)


@dataclass(frozen=True)
class Settings:
    token: str | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    data_dir: Path = Path("data")
    flows: Path = REPO_FLOWS
    default_flow: str | None = None  # None: the flow on the directory (any company), else the first
    log_level: str = "INFO"
    log_format: str = "text"         # or "json": one JSON object per line
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    retention_days: int = 90
    sqlite_synchronous: str = "NORMAL"
    database_url: str | None = None  # None: SQLite in the data folder (see `store_url`)
    database_pool: int = 10          # PostgreSQL connections per process (and per event loop)
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    health_listen: str = "127.0.0.1"
    health_port: int | None = None   # polling mode: serve /healthz, /readyz (and /metrics) there
    metrics_token: str | None = None  # /metrics served only with this bearer token (unset: not served)
    start_retry_seconds: float = 60.0  # how long the store and the Bot API are retried at start
    env_file: Path | None = None     # the .env that was read, if any
    keep_unrecognised: bool = False  # BOT_KEEP_UNRECOGNISED=1: keep 30 days what the recogniser could not route
    quiet_hours: tuple[int, int] | None = QUIET  # BOT_QUIET_HOURS=21:00-09:00 (Paris); "off": none
    reminder_every: float = 30.0     # BOT_REMINDER_CHECK_SECONDS: how often due reminders are looked for
    unknown: tuple[str, ...] = ()    # one warning per BOT_* variable no setting reads (a typo, most often)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "progress.sqlite3"

    @property
    def store_url(self) -> str:
        """BOT_DATABASE_URL, or else `sqlite:///<BOT_DATA_DIR>/progress.sqlite3`."""
        return self.database_url or f"sqlite:///{self.db_path}"

    @classmethod
    def from_env(cls, env_file: str | Path | None = "auto", environ=None) -> "Settings":
        """Settings from `environ` (os.environ), after loading `env_file` into it: "auto" finds
        one (`find_env_file`), None reads none. Raises SettingsError listing every problem."""
        problems = []
        env = dict(os.environ if environ is None else environ)
        found = find_env_file() if env_file == "auto" else (Path(env_file) if env_file else None)
        if found is not None:
            if found.is_file():
                from dotenv import dotenv_values
                env = {**{k: v for k, v in dotenv_values(found).items() if v is not None}, **env}  # env wins
            else:
                problems.append(f"--env-file {found}: no such file")
                found = None
        read = _Reader(env, found.resolve().parent if found else Path.cwd())
        read.problems = problems
        token = read.parsed("TELEGRAM_BOT_TOKEN", _checked(TOKEN.fullmatch, (
            "{name}: not a bot token (digits, a colon, then letters, digits, - and _); copy it again from @BotFather")))
        webhook_url = read.parsed("BOT_WEBHOOK_URL", _checked(_web, (
            "{name}={value}: expected the public https:// URL Telegram posts to")))
        secret = read.parsed("BOT_WEBHOOK_SECRET", _checked(SECRET.fullmatch, (
            "{name}: Telegram accepts only 1 to 256 characters A-Z, a-z, 0-9, _ and -")))
        base_urls = [read.parsed(name, _checked(lambda v: urlparse(v).scheme in ("http", "https"), (
            "{name}={value}: expected an http:// or https:// URL")), default)
            for name, default in (("TELEGRAM_BASE_URL", cls.base_url), ("TELEGRAM_BASE_FILE_URL", cls.base_file_url))]
        start_retry = read.parsed("BOT_START_RETRY_SECONDS", _seconds, cls.start_retry_seconds)
        quiet = read.parsed("BOT_QUIET_HOURS", _quiet, cls.quiet_hours)
        settings = cls(
            token=token, base_url=base_urls[0], base_file_url=base_urls[1],
            data_dir=read.path("BOT_DATA_DIR", "data"),
            flows=read.path("BOT_FLOWS", str(REPO_FLOWS)),
            default_flow=read.text("BOT_DEFAULT_FLOW", "") or None,
            log_level=read.choice("BOT_LOG_LEVEL", "INFO", LOG_LEVELS),
            log_format=read.choice("BOT_LOG_FORMAT", "text", ("text", "json")),
            admin_ids=read.ids("BOT_ADMIN_IDS"),
            retention_days=read.integer("BOT_RETENTION_DAYS", 90, 1, what="a number of days"),
            sqlite_synchronous=read.choice("BOT_SQLITE_SYNCHRONOUS", "NORMAL", ("NORMAL", "FULL")),
            database_url=read.store_url(),
            database_pool=read.integer("BOT_DATABASE_POOL", 10, 1, what="a number of connections"),
            webhook_url=webhook_url,
            webhook_listen=read.text("BOT_WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=read.integer("BOT_WEBHOOK_PORT", 8443, 1, 65535, "a port"),
            webhook_secret=secret,
            health_listen=read.text("BOT_HEALTH_LISTEN") or "127.0.0.1",
            health_port=read.integer("BOT_HEALTH_PORT", 0, 0, 65535, "a port") or None,
            metrics_token=read.text("BOT_METRICS_TOKEN", "") or None,
            start_retry_seconds=start_retry,
            env_file=found,
            keep_unrecognised=read.choice("BOT_KEEP_UNRECOGNISED", "0", ("0", "1")) == "1",
            quiet_hours=quiet,
            reminder_every=float(read.integer("BOT_REMINDER_CHECK_SECONDS", 30, 1, 3600, "a number of seconds")),
        )
        if problems:
            raise SettingsError(problems)
        return replace(settings, unknown=tuple(unknown_settings(env, read.asked)))
