"""`python -m bot`: the command line (bot/cli.py)."""
import sys

from .cli import main

sys.exit(main())
