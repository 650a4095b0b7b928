"""Smoke run of bench/run.py (about a minute): every section runs, both bots answer every
update of the stream, the table is written. Needs psutil (the test extras)."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int = 3) -> int:
    """A port whose next n-1 are free too (the canned Bot API, the idle bot, the distant Bot API)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            others = [socket.socket() for _ in range(n - 1)]
            try:
                for i, other in enumerate(others, 1):
                    other.bind(("127.0.0.1", port + i))
                return port
            except OSError:
                continue
            finally:
                for other in others:
                    other.close()
    pytest.skip(f"no {n} consecutive free ports")


def test_bench_run_quick(tmp_path):
    pytest.importorskip("psutil")
    out = tmp_path / "latest.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--out", str(out),
                           "--port-base", str(free_ports())],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results["runs"]) == {"idle", "offline", "throughput", "distant", "distant-paced", "latency", "stalls"}
    for section, runs in results["runs"].items():
        if section == "idle":
            assert all(mb > 0 for mb in runs["bot"])
            assert not any(r["loaded_at_idle"][m] for r in runs["parts"] for m in ("asyncpg", "matplotlib"))
            continue
        for name, rs in runs.items():
            for r in rs:
                # Every update answered: each made at least one Bot API call.
                assert r["updates"] > 0 and r["updates_per_s"] > 0 and r["calls_per_update"] >= 1, (section, name)
    assert results["runs"]["stalls"]["ours"][0]["background"]["purged"] > 0
    assert results["table"] and all("verdict" in row for row in results["table"])
