"""What the long-run tests share: running maxact, and reading a report without the fields that
describe how the run went (docs/STATE.md: they differ between a single run and its shards,
checkpoints or ranks; everything else must be identical)."""
import json
import subprocess
import sys

RUN_FIELDS = ("seconds", "tokens_per_second", "finished_at", "command", "threads")


def normalized_report(path):
    with open(path) as f:
        r = json.load(f)
    for k in RUN_FIELDS:
        r["run"].pop(k)
    if "quant" in r:
        r["quant"].pop("calibration_seconds")
    return json.dumps(r, sort_keys=True)


def run(cmd, expect=0, env=None):
    """Runs cmd; exits the test unless it succeeded (expect 0) or failed (expect non-zero)."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if (p.returncode != 0) != (expect != 0):
        sys.exit(f"FAIL: {' '.join(cmd)}\nexit {p.returncode} (expected {expect})\n{p.stderr}")
    return p
