"""The command line says the truth about itself: run as a user runs it (`python -m bot ...`).

The tests of a command's mechanics that walk a flow run on the tiny flow of tests/tiny.py and
assert its texts; the real flows' wording is asserted in tests/test_content.py."""
import argparse
import os
import subprocess
import sys

import pytest

from conftest import DEMO, ROOT
from tiny import TINY, tiny_flows

# The tiny flow with a second outcome (« Acide » ends there): two outcomes to tell apart.
TWO_ENDS = TINY.replace("{id: sour, label: \"Acide\", next: done}", "{id: sour, label: \"Acide\", next: other_end}") + """
  other_end:
    type: outcome
    label: "Autre fin Tiny"
    text: "Issue Tiny bis : remplissez le formulaire Tiny."
    channels: [form]
"""


def test_chat_with_a_flow_not_loaded_exits_2_naming_the_flows_loaded(cli):
    code, out, err = cli("chat", "--flow", "demo", "--no-store", stdin="1\n")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no such flow" in lines[0] and "cstream" in lines[0]


def test_chat_with_a_flow_file_runs_that_flow(cli):
    code, out, err = cli("chat", "--flow", DEMO, "--no-store", stdin="autre chose\n")
    assert code == 0, err
    assert out.startswith("Réclamation Démo\n\nQuel est votre problème ?") and "Cstream" not in out


def test_an_unknown_bot_setting_is_named_with_the_closest_one(cli):
    code, out, err = cli("check", env={"BOT_QUIET_HOUR": "off", "BOT_ZZZ": "1"})
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: unknown setting BOT_QUIET_HOUR: did you mean BOT_QUIET_HOURS?",
                        "warning: unknown setting BOT_ZZZ: no setting has this name (see .env.example)"]
    code, out, err = cli("run", stdin="/quitter\n", tty=True, env={"BOT_DATA_DIRS": "x"})
    assert code == 0 and "warning: unknown setting BOT_DATA_DIRS: did you mean BOT_DATA_DIR?" in err


def test_an_unknown_setting_in_the_env_file_is_named_too(cli, tmp_path):
    env = tmp_path / "my.env"
    env.write_text("BOT_RETENTION_DAY=30\n", encoding="utf-8")
    code, _, err = cli("--env-file", env, "check")
    assert code == 0 and "unknown setting BOT_RETENTION_DAY: did you mean BOT_RETENTION_DAYS?" in err


def test_known_settings_give_no_warning(cli):
    code, _, err = cli("check", env={"BOT_QUIET_HOURS": "off", "BOT_LOG_LEVEL": "INFO"})
    assert code == 0 and "warning" not in err


def test_report_on_an_empty_data_folder_says_where_it_looked(cli, tmp_path):
    code, out, err = cli("report")
    assert code == 1 and out == ""
    assert str(tmp_path / "data" / "progress.sqlite3") in err and err.count("\n") == 1
    assert not (tmp_path / "data" / "progress.sqlite3").exists()  # looking creates nothing


def _bot(*args: str, cwd, prelude: str = "", shell_tail: str = "") -> subprocess.CompletedProcess:
    """`python -m bot ARGS` in a child process (`prelude`: Python run first), maybe piped."""
    code = f"{prelude}; import sys; from bot.cli import main; sys.exit(main({list(args)!r}))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env["BOT_DATA_DIR"] = str(cwd / "data")
    command = f"{sys.executable} -c {code!r}{shell_tail}"
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_report_without_the_report_extra_says_which_to_install(tmp_path):
    done = _bot("report", "-o", "r.html", cwd=tmp_path, prelude="import sys; sys.modules['matplotlib'] = None")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and 'pip install -e ".[report]"' in done.stderr


@pytest.mark.parametrize("args", [("chat", "--no-store"), ("classify", "deux", "fois"), ("evaluate", "cstream")])
def test_a_reader_that_leaves_early_ends_it_quietly(tmp_path, args):
    """`python -m bot evaluate cstream | head -1`: the reader is gone before the output ends.
    Here it is gone before the first line (closed at once), so the pipe breaks every time."""
    child = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=tmp_path, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)})
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=300) == 0
    assert err == ""


def test_help_lists_every_command_and_every_option_has_a_help_text(cli, capsys):
    from bot.cli import build_parser
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    parsers = [("", parser)] + list(sub.choices.items())
    for name, p in list(parsers):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += [(f"{name} {n}", q) for n, q in action.choices.items()]
    for name, p in parsers:
        if name and name.strip() in sub.choices:
            assert f"    {name.strip()} " in text, f"--help does not list {name}"
        missing += [f"{name}: {a.dest}" for a in p._actions
                    if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert set(sub.choices) >= {"check", "graph", "report", "chat", "classify", "evaluate", "run", "post", "store"}
    assert missing == []


def test_evaluate_gives_each_column_its_own_header(cli):
    code, out, _ = cli("evaluate", "cstream")
    assert code == 0
    header = next(line for line in out.splitlines() if "expected \\ got" in line).split()[3:]
    assert len(header) == len(set(header)) >= 8
    assert "cancel" in header and any(h.startswith("cancel") and h != "cancel" for h in header)


def test_the_graph_tells_every_outcome_apart(cli, tmp_path):
    assert "next: other_end" in TWO_ENDS
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tiny.yaml").write_text(TWO_ENDS, encoding="utf-8")
    code, _, err = cli("graph", "tiny", "-o", tmp_path / "g.dot", env={"BOT_FLOWS": str(flows)})
    assert code == 0, err
    import re
    dot = (tmp_path / "g.dot").read_text("utf-8")
    boxes = re.findall(r'label="Issue : ([^"]*)"', dot)
    assert len(boxes) == 2 and len(set(boxes)) == 2
    assert "Fin Tiny" in boxes and "Autre fin Tiny" in boxes


def test_two_outcomes_with_one_label_are_refused(cli, tmp_path):
    text = DEMO.read_text(encoding="utf-8").replace('label: "Écrire"', 'label: "Appeler"')
    path = tmp_path / "twice.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, _ = cli("check", path)
    assert code == 1 and "label 'Appeler' is also call's" in out


def test_a_store_that_cannot_be_set_up_is_not_called_temporary_and_quitting_promises_nothing(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, out, err = cli("chat", stdin="double prélèvement\n/quitter\n", env={"BOT_DATA_DIR": str(blocker / "data")})
    assert code == 0
    assert "temporaire" not in out and "n'est pas utilisable tel qu'il est réglé" in out
    assert "gardée" not in out and out.rstrip().endswith("Votre progression n'a pas pu être enregistrée : "
                                                         "elle ne sera pas reprise.")


def test_after_forgetting_everything_quitting_promises_nothing(cli):
    code, out, _ = cli("chat", stdin="double prélèvement\n/oublier\n1\n/quitter\n")
    assert code == 0 and "tout ce que je gardais sur vous est effacé" in out
    assert "Votre progression est gardée" not in out and out.rstrip().endswith("À bientôt !")
    code, out, _ = cli("chat", stdin="double prélèvement\n/quitter\n")  # saved again: then it is promised
    assert "Votre progression est gardée" in out


def test_a_passing_store_trouble_is_called_temporary(tmp_path):
    import io

    from bot.console import run_console
    from bot.engine import Engine
    from bot.errors import StoreUnavailable
    engine = Engine(tiny_flows(tmp_path / "flows"))

    class Locked:
        async def load(self, *args, **kwargs):
            raise StoreUnavailable("OperationalError: database is locked")
        save = delete = load

    out = io.StringIO()
    assert run_console(engine, Locked(), stdin=io.StringIO("une salade de fruits\n/quitter\n"), stdout=out) == 0
    text = out.getvalue()
    assert text.startswith("Un problème temporaire m'empêche d'enregistrer votre progression")
    assert "Votre progression est gardée" not in text and "n'a pas pu être enregistrée" in text


def test_a_failed_erase_never_says_it_is_done(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, out, _ = cli("chat", stdin="double prélèvement\n/oublier\n1\n/quitter\n",
                       env={"BOT_DATA_DIR": str(blocker / "data")})
    assert code == 0 and "Rien n'a été effacé" in out and "C'est fait" not in out


def test_a_database_url_that_cannot_be_used_is_a_set_up_problem_not_a_crash(cli):
    code, out, err = cli("chat", stdin="/quitter\n", env={"BOT_DATABASE_URL": "postgresql://u@127.0.0.1:99999/x"})
    assert code == 0 and "Traceback" not in err
    assert "n'est pas utilisable tel qu'il est réglé" in out and "temporaire" not in out


def test_nothing_kept_means_no_promise_to_come_back(cli):
    script = "on m'a prélevé deux fois\nvidéo\nnon\nnon\nle 20 novembre\n📮 Je l'envoie aujourd'hui\n/quitter\n"
    code, out, _ = cli("chat", "--flow", "cstream", "--no-store", "--at", "2026-11-26 12:00", stdin=script)
    assert code == 0 and "/start reprend ici" not in out
    assert "Sans enregistrement (--no-store), ce suivi s'arrête quand vous quittez" in out
    code, out, _ = cli("chat", "--flow", "cstream", "--at", "2026-11-26 12:00", stdin=script)  # kept: promised
    assert "/start reprend ici" in out and "Sans enregistrement" not in out


def test_the_way_back_names_the_user(cli):
    _, out, _ = cli("chat", "--user", "alice", stdin="double prélèvement\n/quitter\n")
    assert "`python -m bot chat --user alice` pour reprendre" in out


def test_a_date_is_not_taken_for_a_registered_letter_number(engine):
    from conftest import NOW
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "card"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    progress, reply = engine.choose(progress, "_case:today", reply.token, NOW)
    asked, reply = engine.text(progress, "le 3 novembre", NOW)
    assert asked.case.number is None and "Je n'ai pas reconnu un numéro de recommandé" in reply.text
    kept, _ = engine.text(progress, "1A 123 456 7890 1", NOW)
    assert kept.case.number == "1A 123 456 7890 1"


def test_the_readme_terminal_example_prints_what_the_readme_shows(cli):
    import re
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r'printf "([^"]+)" \| \.venv/bin/python -m bot chat --no-store --at "([^"]+)"', readme)
    shown = re.search(r"```text\n(> .*?)```", readme, re.S).group(1)
    code, out, _ = cli("chat", "--no-store", "--at", command.group(2),
                       stdin=command.group(1).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    assert code == 0
    said = out[out.index(shown.splitlines()[0]):]
    assert [line.rstrip() for line in said.splitlines()][:len(shown.splitlines())] == \
        [line.rstrip() for line in shown.splitlines()]


@pytest.mark.parametrize("args", [("graph", "nope", "-o", "x.mmd"), ("classify", "--flow", "nope", "deux fois"),
                                  ("evaluate", "nope")])
def test_every_command_given_an_unknown_flow_names_the_flows_loaded(cli, args):
    code, out, err = cli(*args)
    assert code == 1 and "no flow 'nope'; the flows loaded from" in err and "cstream" in err


def test_report_says_what_since_takes(cli):
    cli("chat", stdin="double prélèvement\n/quitter\n")  # a store to read
    code, _, err = cli("report", "--since", "hier")
    assert code == 1 and "--since 'hier': expected a number of days like 30d" in err and "isoformat" not in err


def test_a_correction_reads_in_french_typography():
    from bot.engine.outcome import _fact_line
    from bot.flow.check import load_flow_text
    checked = "    source: guide\n    status: checked\n    verified: 2026-11-27\n\ndocuments:"
    assert checked in TINY
    flow, problems = load_flow_text(TINY.replace(checked, checked.replace("checked", "correction")), "tiny.yaml")
    assert not problems, problems
    fact = next(f for f in flow.facts.values() if f.status == "correction")
    assert _fact_line(fact, "fr").startswith("Correction : ") and _fact_line(fact, "fr")[13].islower()
    assert _fact_line(fact, "fr") == "Correction : règle Tiny : une réponse sous trente jours."


@pytest.mark.parametrize("handed_over", [False, True])
def test_a_python_without_the_packages_hands_over_to_the_checkouts_venv_or_says_how_to_set_up(handed_over):
    """`python -m bot` run by a Python that lacks rapidfuzz (the system's): in a checkout with a
    `.venv`, the venv's Python runs the command; without one, one line says how to set up."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    if not (root / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in this checkout")
    blocked = ("import sys, runpy; sys.modules['rapidfuzz'] = None; sys.path.insert(0, %r); "
               "sys.argv = ['bot', '--help']; runpy.run_module('bot', run_name='__main__')" % str(root))
    env = {k: v for k, v in os.environ.items() if k != "HANDED_OVER_TO_VENV"}
    if handed_over:
        env["HANDED_OVER_TO_VENV"] = "1"
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, env=env, cwd=root, timeout=60)
    if handed_over:  # as when no venv could take it
        assert done.returncode == 1 and "the package 'rapidfuzz' is missing" in done.stderr and "pip install -e ." in done.stderr
        assert "Traceback" not in done.stderr
    else:
        assert done.returncode == 0 and "check" in done.stdout, done.stderr
