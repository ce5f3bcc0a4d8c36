"""Run every benchmark script in this folder and print their figures (``make bench``).

Each script is standalone (``python benchmarks/<name>.py --help``) and prints its own figures
beside its target. Speed and memory targets live here, never in timed tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["foundation", "imports", "stats", "reports", "dashboards", "load", "identifiers",
         "themes"]
"""The order ``make bench`` runs them in; a script not named here runs after these, by name."""


def scripts() -> list[Path]:
    """Every benchmark script of this folder, :data:`ORDER` first, then the rest by name."""
    found = {p.stem: p for p in HERE.glob("*.py") if p.stem != Path(__file__).stem}
    return ([found.pop(name) for name in ORDER if name in found]
            + [found[name] for name in sorted(found)])


def main() -> int:
    failed = []
    for script in scripts():
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
