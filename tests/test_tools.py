"""The flow author's tools, run as commands the way the README shows them."""
import shutil

import pytest

from conftest import FLOWS



def test_scripted_chat_reaches_the_mediator(cli):
    script = "ma réclamation n'a jamais été traitée\n3\nOui, par écrit (courrier ou e-mail)\n2\n1\n"
    code, out, err = cli("chat", "--flow", "cstream", "--no-store", stdin=script)
    assert code == 0, err
    assert "✔ Ma demande est mal traitée" in out and "✔ Cstream Books" in out
    assert "vous pouvez saisir gratuitement le médiateur de la consommation" in out
    assert "1. 📄 La lettre" in out and "2. 📇 Autres moyens de contact" in out


def test_chat_resumes_after_quitting(cli):
    _, first, _ = cli("chat", "--flow", "cstream", "--user", "alice", stdin="double prélèvement\n1\n/quitter\n")
    assert "Votre progression est gardée" in first
    _, second, _ = cli("chat", "--user", "alice", stdin="/recap\n")
    assert second.startswith("Reprenons où vous en étiez.\n\nAvez-vous déjà contacté")
    assert "Cstream Vidéo" in second  # in the summary
    _, other, _ = cli("chat", "--user", "bob", stdin="")
    assert "Décrivez votre problème et l'entreprise en une phrase" in other  # the default: any company


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
    assert cli("classify", "quelle heure est-il")[1].splitlines()[0] == "none"


def test_graph_writes_mermaid(cli, tmp_path):
    target = tmp_path / "cstream.mmd"
    code, _, err = cli("graph", FLOWS / "cstream.yaml", "-o", target)
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    assert "stateDiagram-v2" in text and "contacted --> written_result" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_writes_svg(cli, tmp_path):
    target = tmp_path / "cstream.svg"
    code, _, err = cli("graph", "cstream", "-o", target)
    assert code == 0, err
    svg = target.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "mediator" in svg


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


def test_two_terminals_on_the_same_person_never_crash(tmp_path, engine):
    """Another terminal answers in between: this one reloads and shows the current question."""
    import io

    from bot.console import run_console
    from bot.store import ConversationKey
    from bot.stores import SQLiteStore
    key = ConversationKey.console("camille")
    mine, other = SQLiteStore(tmp_path / "p.sqlite3"), SQLiteStore(tmp_path / "p.sqlite3")

    class Keyboard(io.StringIO):
        """Types its lines; before the second, the other terminal answers the same question."""
        calls = 0

        def readline(self):
            self.calls += 1
            if self.calls == 2:
                record = other.load_sync(key)
                progress, _ = engine.text(record.progress, "Cstream Music", None)
                other.save_sync(key, progress, record.rev)
            return super().readline()

    out = io.StringIO()
    code = run_console(engine, mine, key, stdin=Keyboard("double prélèvement\n1\n/recap\n"), stdout=out)
    text = out.getvalue()
    assert code == 0 and "avancé ailleurs" in text and "Traceback" not in text
    assert other.load_sync(key).progress.answers == {"problem": "billing", "service": "music", "paid_how": "unknown"}
    assert "Cstream Music" in text.rsplit("Récapitulatif", 1)[1]  # the recap shows the other terminal's answer
    mine.close(), other.close()
