"""Checkpoint / resume (docs/STATE.md): a scan with --checkpoint killed with SIGKILL at random
moments (during windows, calibration and checkpoint writes) and resumed with --resume until it
finishes writes the report of one uninterrupted run, bitwise apart from the run's timing fields;
SIGTERM stops it after a window with exit 1 and a message saying how to resume; a resume with
other options or another shard is refused naming what differs; an existing checkpoint is never
overwritten without --resume; no temporary is left behind.

usage: check_checkpoint.py MAXACT ZOO_DIR FIXTURE_DIR WORK_DIR
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from state_common import normalized_report, run







def catches(pid, sig):
    """Whether process pid has a handler for sig (Linux: the SigCgt mask in /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) >> (sig - 1) & 1 == 1
    except FileNotFoundError:
        pass
    return False


def interrupted_run(cmd, sig, delay, after_file=None):
    """Starts cmd, sends sig after delay seconds; returns (exit code, stderr).

    A catchable sig is sent only once the process handles it (how long the start takes varies
    with the machine's load and the sanitizers), and, with after_file, once that file exists.
    """
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while p.poll() is None and sig != signal.SIGKILL and not catches(p.pid, sig):
        time.sleep(0.005)
    while p.poll() is None and after_file and not os.path.exists(after_file):
        time.sleep(0.005)
    time.sleep(delay)
    p.send_signal(sig)
    _, err = p.communicate()
    return p.returncode, err


def check_case(maxact, name, model, args, work, rnd):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    ref = os.path.join(d, "plain.json")
    t0 = time.time()
    run([maxact, "scan", model, "-q", "--threads", "2", "-o", ref] + args)
    plain_s = time.time() - t0
    want = normalized_report(ref)
    out = os.path.join(d, "resumed.json")
    ck = os.path.join(d, "ck")
    cmd = [maxact, "scan", model, "-q", "--threads", "2", "-o", out, "--checkpoint", ck,
           "--resume"] + args
    kills = mid_write = 0
    while True:
        # Early kills (before the first checkpoint) too; the run may also finish first.
        code, err = interrupted_run(cmd, signal.SIGKILL, rnd.uniform(0.05, plain_s * 0.4))
        if code == 0:
            break
        if code != -signal.SIGKILL:
            sys.exit(f"FAIL: {name}: exit {code} after SIGKILL?\n{err}")
        kills += 1
        # A kill while a checkpoint was being written leaves its temporary beside the last one.
        mid_write += any(".maxact-" in f for f in os.listdir(ck)) if os.path.isdir(ck) else 0
        if kills > 60:
            sys.exit(f"FAIL: {name}: no progress after 40 kills")
    if os.path.exists(os.path.join(ck, "scan.state")):
        sys.exit(f"FAIL: {name}: the finished run left its checkpoint")
    if [f for f in os.listdir(ck) if ".maxact-" in f]:
        sys.exit(f"FAIL: {name}: temporaries left in {ck}: {os.listdir(ck)}")
    if normalized_report(out) != want:
        sys.exit(f"FAIL: {name}: report after {kills} SIGKILLs and resumes differs from one run")
    print(f"ok   {name}: {kills} SIGKILLs ({mid_write} while a checkpoint was being written), "
          "resumed each time: report = the uninterrupted run's")

    os.remove(out)
    terms = 0
    while True:
        code, err = interrupted_run(cmd, signal.SIGTERM, rnd.uniform(0.3, plain_s * 0.7))
        if code == 0:
            break
        if code != 1 or "--resume to continue" not in err:
            sys.exit(f"FAIL: {name}: SIGTERM gave exit {code}:\n{err}")
        if os.path.exists(out):
            sys.exit(f"FAIL: {name}: an interrupted run wrote its report")
        terms += 1
        if terms > 40:
            sys.exit(f"FAIL: {name}: no progress after 40 SIGTERMs")
    if normalized_report(out) != want:
        sys.exit(f"FAIL: {name}: report after {terms} SIGTERMs and resumes differs from one run")
    print(f"ok   {name}: {terms} SIGTERMs (exit 1, how to resume said): report identical")
    return d, cmd


def check_refusals(maxact, d, cmd, model, args):
    ck = os.path.join(d, "ck")
    state = os.path.join(ck, "scan.state")
    code, err = interrupted_run(cmd, signal.SIGTERM, 0, after_file=state)
    if code != 1:
        sys.exit(f"FAIL: could not leave a checkpoint (exit {code}): {err}")
    before = open(state, "rb").read()
    # What a kill during a checkpoint's write leaves: the last checkpoint whole, and beside it the
    # new one's temporary, cut short. The resume must read the former and remove the latter.
    torn = os.path.join(ck, ".scan.state.maxact-Ab3dEf")
    open(torn, "wb").write(before[: len(before) // 2])
    p = run([maxact, "scan", model, "-q", "-o", os.path.join(d, "torn.json"), "--checkpoint", ck,
             "--resume"] + args)
    if os.path.exists(torn) or normalized_report(os.path.join(d, "torn.json")) != \
            normalized_report(os.path.join(d, "plain.json")):
        sys.exit("FAIL: resuming beside a torn checkpoint write")
    print("ok   a checkpoint write cut short: the last checkpoint resumed, the temporary removed")
    code, err = interrupted_run(cmd, signal.SIGTERM, 0, after_file=state)
    if code != 1:
        sys.exit(f"FAIL: could not leave a checkpoint again (exit {code}): {err}")
    before = open(state, "rb").read()
    out = os.path.join(d, "other.json")
    p = run([maxact, "scan", model, "-q", "-o", out, "--checkpoint", ck] + args, expect=1)
    if "--resume continues it" not in p.stderr:
        sys.exit(f"FAIL: an existing checkpoint without --resume: {p.stderr}")
    p = run([maxact, "scan", model, "-q", "-o", out, "--checkpoint", ck, "--resume", "--topk",
             "9"] + args, expect=1)
    if "option topk" not in p.stderr or state not in p.stderr:
        sys.exit(f"FAIL: resume with other options: {p.stderr}")
    if open(state, "rb").read() != before or os.path.exists(out):
        sys.exit("FAIL: a refused resume changed the checkpoint or wrote a report")
    p = run([maxact, "scan", model, "-q", "--checkpoint", ck, "--resume", "--shard", "0/2",
             "--state", out] + args, expect=0)
    print("ok   refused: a checkpoint without --resume, with other options; a shard has its own file")
    open(state, "wb").write(before[: len(before) // 3])
    p = run([maxact, "scan", model, "-q", "-o", out, "--checkpoint", ck, "--resume"] + args,
            expect=1)
    if "truncated" not in p.stderr or state not in p.stderr:
        sys.exit(f"FAIL: a truncated checkpoint: {p.stderr}")
    print(f"ok   refused: {p.stderr.strip()[:120]}")


def main():
    maxact, zoo, fixtures, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    rnd = random.Random(11)
    d, cmd = check_case(maxact, "llama-tiny", os.path.join(zoo, "llama-tiny"),
                        ["--samples", "40", "--window-tokens", "700"], work, rnd)
    check_refusals(maxact, d, cmd, os.path.join(zoo, "llama-tiny"),
                   ["--samples", "40", "--window-tokens", "700"])
    check_case(maxact, "qwen3-moe-tiny-quant", os.path.join(zoo, "qwen3-moe-tiny"),
               ["--quant", "--calib", "8", "--eval", "24", "--window-tokens", "900",
                "--expert-inputs"], work, rnd)
    print("interrupted and resumed scans identical to uninterrupted ones")


if __name__ == "__main__":
    main()
