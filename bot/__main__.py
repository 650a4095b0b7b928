"""`python -m bot`: the command line (bot/cli.py). Run by a Python that lacks the project's
packages (the system's, say) in a checkout whose `.venv` has them, it hands over to that one."""
import os
import sys
from pathlib import Path

try:
    from .cli import main
except ModuleNotFoundError as missing:
    if (missing.name or "bot").split(".")[0] == "bot":
        raise
    venv = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    if venv.exists() and not os.environ.get("HANDED_OVER_TO_VENV"):
        os.environ["HANDED_OVER_TO_VENV"] = "1"  # once: never a loop
        os.execv(venv, [str(venv), "-m", "bot", *sys.argv[1:]])
    sys.exit(f"python -m bot: the package {(missing.name or '?').split('.')[0]!r} is missing. Set up first (README): "
             "python3 -m venv .venv && .venv/bin/pip install -e . ; then .venv/bin/python -m bot ...")

sys.exit(main())
