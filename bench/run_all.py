"""Run every benchmark and print its ratios; results are recorded by hand in docs/benchmarks.md.

Usage: make bench   (which runs this beside an embedded Redis when REDIS_URL is unset)
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("event_log.py", "fanout.py", "browser.py", "capacity.py"):
    print(f"\n== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE.parent)
