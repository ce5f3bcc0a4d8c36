"""Run every benchmark script in this folder and print their figures (``make bench``).

Each script is standalone (``python benchmarks/<name>.py --help``) and prints its own figures
beside its target. Speed and memory targets live here, never in timed tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["foundation", "stats", "reports", "dashboards", "load"]


def main() -> int:
    failed = []
    scripts = [HERE / f"{name}.py" for name in ORDER if (HERE / f"{name}.py").exists()]
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
