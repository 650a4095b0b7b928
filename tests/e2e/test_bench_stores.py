"""Smoke run of bench/stores.py (about 25 s): the three set-ups start, take the stream, and
every reply reaches the canned Bot API. Needs PostgreSQL and nginx, as test_nginx.py."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_bench_stores_quick(tmp_path):
    pytest.importorskip("asyncpg")
    pytest.importorskip("psutil")
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed")
    out = tmp_path / "stores.json"
    args = [sys.executable, "-m", "bench.stores", "--quick", "--conversations", "20", "--out", str(out)]
    proc = subprocess.run(args,
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ.copy())
    if proc.returncode != 0 and "Connect" in proc.stderr and "5432" in proc.stderr:
        pytest.skip("PostgreSQL does not answer")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {row["setup"] for row in results["table"]} == {"sqlite1", "pg1", "pg3"}
    for runs in results["runs"].values():
        for run in runs:
            assert run["updates"] > 0 and run["updates_per_s"] > 0 and run["refused"] == 0
