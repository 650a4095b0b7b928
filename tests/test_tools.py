"""The flow author's tools, run as commands the way the README shows them."""
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def run(*args, stdin=None, env_extra=None, tmp=None):
    import os
    env = {**os.environ, "BOT_DATA_DIR": str(tmp) if tmp else os.environ.get("BOT_DATA_DIR", "data"),
           **(env_extra or {})}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=60, env=env)


def test_scripted_chat_reaches_the_mediator(tmp_path):
    script = "ma réclamation n'a jamais été traitée\n3\nOui, par écrit (courrier ou e-mail)\n2\n1\n"
    result = run("chat", "--no-store", stdin=script, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "✔ Ma demande est mal traitée" in out and "✔ Cstream Books" in out
    assert "vous pouvez saisir gratuitement le médiateur de la consommation" in out
    assert "https://www.mediateurfevad.fr" in out and "90 jours" in out


def test_chat_resumes_after_quitting(tmp_path):
    first = run("chat", "--user", "alice", stdin="double prélèvement\n1\n/quitter\n", tmp=tmp_path)
    assert "Votre progression est gardée" in first.stdout
    second = run("chat", "--user", "alice", stdin="/recap\n", tmp=tmp_path)
    assert second.stdout.startswith("Reprenons où vous en étiez.\n\nAvez-vous déjà contacté")
    assert "Cstream Vidéo" in second.stdout  # in the summary
    other = run("chat", "--user", "bob", stdin="", tmp=tmp_path)
    assert "Quel est votre problème avec Cstream" in other.stdout


def test_chat_commands_back_restart_help(tmp_path):
    out = run("chat", "--no-store", stdin="double prélèvement\n/retour\n/aide\n/recommencer\n/inconnu\n",
              tmp=tmp_path).stdout
    assert "revenons à la question précédente" in out
    assert "Je vous aide à faire aboutir une réclamation" in out
    assert "On recommence depuis le début." in out


def test_classify_prints_choice_first():
    result = run("classify", "on m'a prélevé deux fois ce mois-ci")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines[0] == "billing"
    assert any(line.strip().startswith("billing") and "deux fois" in line for line in lines[1:])
    assert run("classify", "quelle heure est-il").stdout.splitlines()[0] == "none"


def test_graph_writes_mermaid(tmp_path):
    target = tmp_path / "cstream.mmd"
    result = run("graph", "flows/cstream.yaml", "-o", str(target))
    assert result.returncode == 0, result.stderr
    text = target.read_text(encoding="utf-8")
    assert "stateDiagram-v2" in text and "contacted --> written_result" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_writes_svg(tmp_path):
    target = tmp_path / "cstream.svg"
    result = run("graph", "cstream", "-o", str(target))
    assert result.returncode == 0, result.stderr
    svg = target.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "mediator" in svg


def test_run_without_token_falls_back_to_the_terminal(tmp_path):
    result = run("run", stdin="/quitter\n", tmp=tmp_path)
    assert result.returncode == 0
    assert "No TELEGRAM_BOT_TOKEN" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Quel est votre problème avec Cstream" in result.stdout
