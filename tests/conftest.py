from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.engine import Engine, FlowSet
from bot.flow.loader import load_flow

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(scope="session")
def flow():
    flow, problems = load_flow(FLOWS / "cstream.yaml")
    assert not problems, problems
    return flow


@pytest.fixture(scope="session")
def engine(flow):
    return Engine(FlowSet([flow]))


@pytest.fixture
def weekday_noon():
    return paris(2026, 11, 26, 12, 0)  # a Thursday
