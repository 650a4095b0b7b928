"""The flow author's tools, run as commands the way the README shows them.

Those that walk a flow run on the tiny flow of tests/tiny.py and assert its texts; the real
flows' wording is asserted in tests/test_content.py."""
import shutil

import pytest

from tiny import tiny_flows


@pytest.fixture
def tiny_folder(tmp_path):
    """A flows folder holding the tiny flow alone (for BOT_FLOWS)."""
    tiny_flows(tmp_path / "flows")
    return tmp_path / "flows"

def test_scripted_chat_reaches_the_outcome(cli, tiny_folder):
    script = "une salade de fruits\n2\nRouge\n1\n1\n"  # own words, numbers, a label typed
    code, out, err = cli("chat", "--flow", "tiny", "--no-store", stdin=script, env={"BOT_FLOWS": str(tiny_folder)})
    assert code == 0, err
    assert "✔ Fruits" in out and "✔ Grand" in out and "✔ Rouge" in out
    assert "Issue Tiny : appelez la ligne Tiny." in out
    assert "1. 📄 La lettre" in out and "2. 📇 Autres moyens de contact" in out


def test_chat_resumes_after_quitting(cli, tiny_folder):
    env = {"BOT_FLOWS": str(tiny_folder)}
    _, first, _ = cli("chat", "--flow", "tiny", "--user", "alice", stdin="une salade de fruits\n1\n/quitter\n", env=env)
    assert "Votre progression est gardée" in first
    _, second, _ = cli("chat", "--user", "alice", stdin="/recap\n", env=env)
    assert second.startswith("Reprenons où vous en étiez.\n\nQuestion C : quelle couleur ?")
    assert "Petit" in second.rsplit("Récapitulatif", 1)[1]  # in the summary
    _, other, _ = cli("chat", "--user", "bob", stdin="", env=env)
    assert other.startswith("Bienvenue dans le parcours Tiny.") and "Reprenons" not in other  # bob starts anew


def test_chat_commands_back_restart_help(cli):
    _, out, _ = cli("chat", "--no-store", stdin="double prélèvement\n/retour\n/aide\n/recommencer\n/inconnu\n")
    assert "revenons à la question précédente" in out
    assert "Je vous aide à faire aboutir une réclamation" in out
    assert "On recommence depuis le début." in out


def test_classify_prints_choice_first(cli):
    code, out, _ = cli("classify", "on m'a prélevé deux fois ce mois-ci")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "billing"
    assert any(line.strip().startswith("billing") and "deux fois" in line for line in lines[1:])
    # no consumer problem: the Cstream question shows its list; the general flow's first
    # message is read by the router (`--route`), which says none (then the bot says what it does)
    assert cli("classify", "--flow", "cstream", "quelle heure est-il")[1].splitlines()[0] == "none"
    assert cli("classify", "--route", "quelle heure est-il")[1].splitlines()[0] == "-\t-\tnone"


def test_graph_writes_mermaid(cli, tmp_path, tiny_folder):
    target = tmp_path / "tiny.mmd"
    code, _, err = cli("graph", tiny_folder / "tiny.yaml", "-o", target)
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    assert "stateDiagram-v2" in text and "size --> colour" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_writes_svg(cli, tmp_path, tiny_folder):
    target = tmp_path / "tiny.svg"
    code, _, err = cli("graph", "tiny", "-o", target, env={"BOT_FLOWS": str(tiny_folder)})
    assert code == 0, err
    svg = target.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "Fin Tiny" in svg


def test_run_without_token_falls_back_to_the_terminal(cli):
    code, out, err = cli("run", stdin="/quitter\n", tty=True)
    assert code == 0
    assert "No TELEGRAM_BOT_TOKEN" in err and len(err.strip().splitlines()) == 1
    assert "Décrivez votre problème et l'entreprise en une phrase" in out


def test_run_without_token_and_without_a_terminal_exits_with_one_line(cli):
    """Run by a service manager (stdin not a terminal): no conversation nobody sees."""
    code, out, err = cli("run", stdin="/quitter\n")
    assert code == 2 and out == ""
    assert err.startswith("no TELEGRAM_BOT_TOKEN and no terminal:") and len(err.strip().splitlines()) == 1


def test_two_terminals_on_the_same_person_never_crash(tmp_path):
    """Another terminal answers in between: this one reloads and shows the current question."""
    import io

    from bot.console import run_console
    from bot.engine import Engine
    from bot.store import ConversationKey
    from bot.stores import SQLiteStore
    engine = Engine(tiny_flows(tmp_path / "flows"))
    key = ConversationKey.console("camille")
    mine, other = SQLiteStore(tmp_path / "p.sqlite3"), SQLiteStore(tmp_path / "p.sqlite3")

    class Keyboard(io.StringIO):
        """Types its lines; before the second, the other terminal answers the same question."""
        calls = 0

        def readline(self):
            self.calls += 1
            if self.calls == 2:
                record = other.load_sync(key)
                progress, _ = engine.text(record.progress, "Grand", None)
                other.save_sync(key, progress, record.rev)
            return super().readline()

    out = io.StringIO()
    code = run_console(engine, mine, key, stdin=Keyboard("une salade de fruits\n1\n/recap\n"), stdout=out)
    text = out.getvalue()
    assert code == 0 and "avancé ailleurs" in text and "Traceback" not in text
    assert other.load_sync(key).progress.answers == {"topic": "fruit", "size": "big"}
    assert "Grand" in text.rsplit("Récapitulatif", 1)[1]  # the recap shows the other terminal's answer
    mine.close(), other.close()
