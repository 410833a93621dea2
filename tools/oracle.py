"""Runs the oracle scripts (tools/oracle_m*.py) that write golden/: all, or those named.

    python3 tools/oracle.py [m0 m2 ...]

Each oracle is a standalone script using Hugging Face code; this only runs them in order.
"""
import glob
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
wanted = set(sys.argv[1:])
scripts = sorted(glob.glob(os.path.join(here, "oracle_m*.py")))
failed = []
for script in scripts:
    lab = os.path.basename(script)[len("oracle_"):].split(".")[0]
    if wanted and lab not in wanted:
        continue
    print(f"==> {os.path.relpath(script)}", flush=True)
    if subprocess.call([sys.executable, script]) != 0:
        failed.append(lab)
if failed:
    sys.exit(f"oracles failed: {' '.join(failed)}")
