"""``make bench`` runs every benchmark script of ``benchmarks/`` (issue 16's acceptance: the
import, load, refresh and load-test figures are all printed), and each of them starts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _runner():
    spec = importlib.util.spec_from_file_location("bench_runner", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_script_is_run_once_in_order():
    runner = _runner()
    listed = [p.name for p in runner.scripts()]
    on_disk = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "run.py")
    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed))
    assert listed[:2] == ["foundation.py", "imports.py"]
    assert "imports.py" in listed and "load.py" in listed and "reports.py" in listed


def test_a_script_not_in_the_order_still_runs(tmp_path, monkeypatch):
    runner = _runner()
    for name in ("foundation", "zeta", "alpha"):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "run.py").write_text("")
    monkeypatch.setattr(runner, "HERE", tmp_path)
    assert [p.stem for p in runner.scripts()] == ["foundation", "alpha", "zeta"]


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")
                                          if p.name != "run.py"))
def test_each_script_starts(script):
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout.lower()
