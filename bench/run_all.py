"""Run every benchmark and print its ratios; results are recorded by hand in docs/benchmarks.md.

Usage: make bench   (which runs this beside an embedded Redis when REDIS_URL is unset)
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Every script runs even when an earlier one misses its targets; the exit status says whether all were met.
missed = []
for script in ("pages.py", "event_log.py", "events.py", "fanout.py", "browser.py", "capacity.py"):
    print(f"\n== {script}", flush=True)
    if subprocess.run([sys.executable, str(HERE / script)], check=False, cwd=HERE.parent).returncode != 0:
        missed.append(script)
if missed:
    print(f"\nmissed a target or failed: {', '.join(missed)}")
    sys.exit(1)
