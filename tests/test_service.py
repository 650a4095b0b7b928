"""Running as a service: settings checked at start, start-up faults retried then reported in one
line, the token kept out of every line, health, readiness and metrics, JSON logs, packaging."""
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from fakeapi import FakeBotApi
from tg import Person

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:SERVICE-secret-token"


def run_bot(tmp_path, env: dict, *args, timeout: float = 30):
    """`python -m bot run ARGS` as a service manager runs it (no terminal): (code, output)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    full.update({"BOT_DATA_DIR": str(tmp_path / "data"), "BOT_START_RETRY_SECONDS": "0", **env})
    proc = subprocess.run([sys.executable, "-m", "bot", "run", *args], cwd=tmp_path, env=full,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- settings ------------------------------------------------------------------------------------
def test_every_bad_setting_is_one_line_and_exit_2(cli):
    code, out, err = cli("run", env={"BOT_RETENTION_DAYS": "90d", "BOT_LOG_LEVEL": "LOUD",
                                     "BOT_ADMIN_IDS": "12, bob", "BOT_WEBHOOK_SECRET": "pas de secret!",
                                     "BOT_QUIET_HOURS": "21h-9h"})
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 5, lines
    assert any("BOT_QUIET_HOURS='21h-9h'" in line and "21:00-09:00" in line for line in lines)
    assert any("BOT_RETENTION_DAYS='90d'" in line for line in lines)
    assert any("BOT_LOG_LEVEL='LOUD'" in line and "DEBUG" in line for line in lines)
    assert any("BOT_ADMIN_IDS: 'bob'" in line for line in lines)
    assert any("BOT_WEBHOOK_SECRET" in line and "A-Z" in line for line in lines)


def test_good_settings_are_read(monkeypatch):
    settings = Settings.from_env(None, environ={"BOT_ADMIN_IDS": "12, 34", "BOT_RETENTION_DAYS": "30",
                                                "BOT_LOG_FORMAT": "JSON", "BOT_WEBHOOK_SECRET": "a_b-C9"})
    assert settings.admin_ids == {12, 34} and settings.retention_days == 30 and settings.log_format == "json"
    assert settings.quiet_hours == (21 * 60, 9 * 60)  # the default
    quiet = Settings.from_env(None, environ={"BOT_QUIET_HOURS": "22:30-8:00", "BOT_REMINDER_CHECK_SECONDS": "5"})
    assert quiet.quiet_hours == (22 * 60 + 30, 8 * 60) and quiet.reminder_every == 5
    assert Settings.from_env(None, environ={"BOT_QUIET_HOURS": "off"}).quiet_hours is None


def test_env_file_given_and_paths_resolved_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "bot.env").write_text("BOT_DATA_DIR=state\nBOT_DATABASE_URL=sqlite:///db/p.sqlite3\n"
                                    "BOT_RETENTION_DAYS=7\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(folder / "bot.env", environ={})
    assert settings.data_dir == folder / "state" and settings.retention_days == 7
    assert settings.store_url == f"sqlite:///{folder / 'db' / 'p.sqlite3'}"
    assert Settings.from_env(None, environ={"BOT_DATA_DIR": "data"}).data_dir == tmp_path / "data"  # no file: cwd
    with pytest.raises(SettingsError, match="no such file"):
        Settings.from_env(tmp_path / "missing.env", environ={})


def test_env_file_beside_the_project_is_found_from_another_folder(tmp_path, monkeypatch):
    import bot.settings as settings_module
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("BOT_RETENTION_DAYS=12\n")
    monkeypatch.setattr(settings_module, "PROJECT", project)
    monkeypatch.chdir(tmp_path)
    assert settings_module.find_env_file() == project / ".env"
    assert Settings.from_env("auto", environ={}).retention_days == 12
    (tmp_path / ".env").write_text("BOT_RETENTION_DAYS=3\n")  # the current folder's comes first
    assert Settings.from_env("auto", environ={}).retention_days == 3


def test_the_command_line_reads_env_file(cli, tmp_path):
    env_file = tmp_path / "bot.env"
    env_file.write_text("BOT_RETENTION_DAYS=soon\n")
    code, _, err = cli("--env-file", env_file, "check")
    assert code == 2 and err.strip() == "setting: BOT_RETENTION_DAYS='soon': expected a number of days of at " \
                                        "least 1 (e.g. BOT_RETENTION_DAYS=90)"


def test_version(capsys):
    from importlib.metadata import version

    from bot.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"python -m bot {version('complaint-bot')}"


# -- start-up faults -----------------------------------------------------------------------------
def test_a_refused_token_is_one_line_and_never_printed(tmp_path):
    api = FakeBotApi({"getMe": (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})})
    try:
        code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url,
                                          "BOT_LOG_LEVEL": "DEBUG"})
    finally:
        api.close()
    assert code == 1
    assert "SERVICE-secret-token" not in output and "Traceback" not in output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "refused the token (it answered « Unauthorized »)" in errors[0], output


def test_an_unexpected_error_is_logged_with_the_token_redacted(monkeypatch, capsys, flow):
    from telegram.error import InvalidToken

    import bot.telegram.app as app_module
    from bot.flow.files import FlowSet

    async def failing(app, settings, webhook):
        raise InvalidToken(f"The token `{settings.token}` was rejected by the server.")  # as PTB words it
    monkeypatch.setattr(app_module, "_serve", failing)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    settings = Settings(token=TOKEN)
    monkeypatch.setattr(app_module, "build_application", lambda settings, flows: None)
    assert app_module.run_bot(settings, FlowSet([flow])) == 1
    err = capsys.readouterr().err
    assert "unexpected error" in err and "Traceback" in err and "InvalidToken" in err
    assert "SERVICE-secret-token" not in err


def test_no_network_at_start_is_retried_then_one_clear_line(tmp_path):
    code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_START_RETRY_SECONDS": "2.5",
                                      "TELEGRAM_BASE_URL": f"http://127.0.0.1:{free_port()}/bot"})
    tries = [line for line in output.splitlines() if "Bot API (getMe): try" in line]
    assert code == 1 and len(tries) >= 2, output
    assert output.strip().splitlines()[-1].endswith(")") and "not starting: Bot API (getMe): still failing" in output
    assert "Traceback" not in output and "SERVICE-secret-token" not in output


def test_a_data_folder_that_cannot_be_written_is_retried_then_exit_1(tmp_path):
    (tmp_path / "a-file").write_text("in the way")
    api = FakeBotApi()
    try:
        code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url,
                                          "BOT_DATA_DIR": str(tmp_path / "a-file" / "data"),
                                          "BOT_START_RETRY_SECONDS": "1.5"})
    finally:
        api.close()
    assert code == 1 and "Traceback" not in output
    assert "progress store: try 1 failed" in output and "cannot be written" in output
    assert "not starting: progress store: still failing" in output
    assert "getUpdates" not in api.calls  # never started serving


def test_a_database_that_does_not_answer_is_retried_then_exit_1(tmp_path):
    code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_START_RETRY_SECONDS": "1.5",
                                      "BOT_DATABASE_URL": f"postgresql://bot@127.0.0.1:{free_port()}/bot"})
    assert code == 1 and "Traceback" not in output
    assert "progress store: try 1 failed" in output and "not starting: progress store: still failing" in output


def test_a_second_poller_gets_one_line_about_webhook_mode(tmp_path):
    conflict = {"ok": False, "error_code": 409, "description": "Conflict: terminated by other getUpdates "
                "request; make sure that only one bot instance is running"}
    api = FakeBotApi({"getUpdates": (409, conflict)})
    try:
        code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url})
    finally:
        api.close()
    assert code == 1 and "Traceback" not in output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "another instance is polling" in errors[0] and "--webhook" in errors[0]


# -- health, readiness, metrics ------------------------------------------------------------------
def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_polling_mode_serves_health_on_its_own_port(tmp_path):
    api, port = FakeBotApi(), free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))},
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url, "BOT_DATA_DIR": str(tmp_path / "data"),
           "BOT_HEALTH_PORT": str(port), "BOT_LOG_FORMAT": "json", "BOT_METRICS_TOKEN": "scrape-me"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert (status, body) == (200, "ok\n")
        assert get(f"http://127.0.0.1:{port}/readyz") == (200, "ready\n")
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 401  # what people do: for the operator only
        status, metrics = get(f"http://127.0.0.1:{port}/metrics", {"Authorization": "Bearer scrape-me"})
        assert status == 200 and "bot_reminders_sent_total 0.0" in metrics and "bot_messages_sent_total" in metrics
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= lines[0].keys()
    assert any("serving /healthz and /readyz and /metrics" in line["message"] for line in lines)


async def test_the_webhook_server_serves_health_readiness_and_metrics(bot, tmp_path):
    import aiohttp

    from bot.ops.health import Health
    from bot.telegram.webhook import WebhookServer
    tg, app, store = bot
    camille = Person(tg, app, 4101)
    for text in ("/start", "ma réclamation n'a jamais été traitée", "Cstream Books",
                 "Oui, par écrit (courrier ou e-mail)", "Pas de réponse depuis plus de 2 mois",
                 "Il y a moins d'un an"):
        await (camille.send(text) if text.startswith(("/", "ma ")) else camille.press(text))
    assert "médiateur" in camille.last_text
    metrics = app.bot_data["metrics"]
    port = free_port()
    server = WebhookServer(app, "https://bot.example.org/hook", "s3cret", "127.0.0.1", port,
                           health=Health(store, app.bot, metrics, metrics_token="scrape-me"))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 200 and await r.text() == "ready\n"  # getMe answered (FakeTelegram)
            for wrong in ({}, {"Authorization": "Bearer guess"}):
                async with http.get(f"http://127.0.0.1:{port}/metrics", headers=wrong) as r:
                    assert r.status == 401
            async with http.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer scrape-me"}) as r:
                text = await r.text()
            store.close()
            (tmp_path / "progress.sqlite3").unlink()
            (tmp_path / "progress.sqlite3").mkdir()  # the store cannot open its file any more
            store._forget() if hasattr(store, "_forget") else None
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 503 and "store:" in await r.text()
    finally:
        await server.stop()
    assert 'bot_updates_total{kind="message"} 2.0' in text and 'bot_updates_total{kind="callback_query"} 4.0' in text
    assert 'bot_outcomes_total{reason="requests"} 1.0' in text  # the problem: a complaint left unanswered
    assert "bot_update_handling_seconds_count 6.0" in text


async def test_conflicts_and_store_errors_are_counted():
    from bot.errors import Conflict, StoreUnavailable
    from bot.ops.metrics import CountedStore, Metrics

    class Store:
        async def save(self, *args):
            raise Conflict("moved on")

        async def load(self, key):
            raise StoreUnavailable("locked")

        async def count(self):
            return 3
    metrics = Metrics()
    store = CountedStore(Store(), metrics)
    with pytest.raises(Conflict):
        await store.save("k")
    with pytest.raises(StoreUnavailable):
        await store.load("k")
    assert await store.count() == 3
    assert metrics.conflicts._value.get() == 1 and metrics.store_errors._value.get() == 1


# -- logs ----------------------------------------------------------------------------------------
def test_json_logs_are_one_object_per_line_without_the_token(monkeypatch):
    from bot.telegram.app import setup_logging
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    setup_logging(Settings(token="123:SECRET-TOKEN", log_format="json"))
    out = io.StringIO()
    root.handlers[0].setStream(out)
    try:
        raise RuntimeError("at https://api.telegram.org/bot123:SECRET-TOKEN/getMe")
    except RuntimeError:
        logging.getLogger("telegram.ext").exception("failed\nover two lines")
    logging.getLogger("bot").info("plain %s", "line")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["level"] == "ERROR" and first["message"] == "failed\nover two lines" and "RuntimeError" in first["exc"]
    assert second == {**second, "level": "INFO", "logger": "bot", "message": "plain line"}
    assert "SECRET-TOKEN" not in out.getvalue()


# -- packaging -----------------------------------------------------------------------------------
def test_the_wheel_carries_the_flows(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel, = tmp_path.glob("complaint_bot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/flows_data/cstream.yaml" in names and "bot/locales/fr.yaml" in names and "bot/ops/health.py" in names
    assert "bot/flows_data/directory/companies.yaml" in names  # the directory of companies too
    # Installed (not editable), it finds its flows from any folder: `python -m bot check`.
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    import site
    path = os.pathsep.join([str(target), *site.getsitepackages()])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    checked = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {path.split(os.pathsep)!r}; "
                              "import bot, runpy; assert bot.__file__.startswith(sys.path[0]), bot.__file__; "
                              "sys.argv = ['bot', 'check']; runpy.run_module('bot', run_name='__main__')"],
                             cwd=elsewhere, env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "flows_data/cstream.yaml: ok" in checked.stdout and "flows_data/directory: ok" in checked.stdout


def test_the_systemd_unit_is_valid():
    """deploy/complaint-bot.service: systemd accepts every line (only the install path is missing here)."""
    import shutil
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "deploy" / "complaint-bot.service").read_text()
    for line in ("User=", "WorkingDirectory=", "EnvironmentFile=", "ExecStart=/opt/complaint-bot/.venv/bin/python "
                 "-m bot run --webhook", "Restart=on-failure", "RestartPreventExitStatus=2", "NoNewPrivileges=true"):
        assert line in unit
    checked = subprocess.run(["systemd-analyze", "verify", str(ROOT / "deploy" / "complaint-bot.service")],
                             capture_output=True, text=True)
    problems = [line for line in (checked.stdout + checked.stderr).splitlines()
                if line.strip() and "/opt/complaint-bot" not in line]
    assert not problems, problems


async def test_messages_sent_and_the_last_bot_api_answer_are_counted_by_the_client():
    from bot.ops.metrics import Metrics
    from bot.telegram.request import AiohttpRequest
    api = FakeBotApi({"sendMessage": (200, {"ok": True, "result": {"message_id": 1}}),
                      "sendDocument": (400, {"ok": False, "error_code": 400, "description": "Bad Request"})})
    metrics = Metrics()
    request = AiohttpRequest(on_response=metrics.api_response)
    try:
        assert metrics.api_ok_at is None
        await request.do_request(f"{api.url}{TOKEN}/getMe", "POST")
        assert metrics.api_ok_at is not None and metrics.sent._value.get() == 0
        await request.do_request(f"{api.url}{TOKEN}/sendMessage", "POST")
        await request.do_request(f"{api.url}{TOKEN}/sendDocument", "POST")  # refused: not sent
        assert metrics.sent._value.get() == 1
    finally:
        await request.shutdown()
        api.close()


def test_a_404_at_start_says_what_was_answered(tmp_path):
    api = FakeBotApi({"getMe": (404, {"ok": False, "error_code": 404, "description": "Not Found"})})
    try:
        code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url})
    finally:
        api.close()
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert code == 1 and len(errors) == 1 and "it answered « Not Found »" in errors[0] and "Unauthorized" not in output


def test_a_malformed_get_me_answer_is_retried_not_a_traceback(tmp_path):
    api = FakeBotApi({"getMe": (200, {"ok": True, "result": {"unexpected": "shape"}})})
    try:
        code, output = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url,
                                          "BOT_START_RETRY_SECONDS": "2.5"})
    finally:
        api.close()
    tries = [line for line in output.splitlines() if "Bot API (getMe): try" in line]
    assert code == 1 and len(tries) >= 2 and "Traceback" not in output, output
    assert "not starting: Bot API (getMe): still failing" in output and "not a bot" in output


def test_an_update_that_cannot_be_read_is_skipped_once_in_polling_mode(tmp_path):
    """A sender without is_bot and first_name (a schema change, a self-hosted Bot API): the
    poller moves past it, logs it once by size, and answers the update after it."""
    poison = {"update_id": 900, "message": {"message_id": 1, "date": 1700000000, "text": "3 rue des Lilas",
                                            "chat": {"id": 42, "type": "private"}, "from": {"id": 42}}}
    good = {"update_id": 901, "message": {"message_id": 2, "date": 1700000000, "text": "/start",
                                          "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                                          "chat": {"id": 43, "type": "private", "first_name": "B"},
                                          "from": {"id": 43, "is_bot": False, "first_name": "B"}}}
    api = FakeBotApi(updates=[poison, good])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))},
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.url, "BOT_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 20
        while "sendMessage" not in api.calls and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
        api.close()
    assert "sendMessage" in api.calls  # the update after it was answered
    fetches = api.calls.count("getUpdates")
    assert fetches < 10, fetches  # no loop on the same batch
    assert "Lilas" not in output and output.count("cannot be read") == 1, output
