"""Models larger than memory (docs/STATE.md): a checkpoint larger than the memory limit of the
scan's cgroup scans to the report an unlimited run writes (bitwise apart from timing), the
limit reached on the way (the cgroup's failcnt), and the scan says so with a --window-tokens
recommendation. The limit is the unlimited run's own peak of anonymous memory (one layer's
weights and the window; larger under AddressSanitizer) plus 32 MiB: far below the weights, so
their pages must be dropped and read again. The cgroup is made under /sys/fs/cgroup (v2 memory.max, or v1's memory
controller); where neither is writable the test says why and exits 77 (skipped).

usage: check_low_memory.py MAXACT FIXTURE_SCRIPT PYTHON WORK_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time

from state_common import normalized_report





def make_cgroup(name, limit):
    """(cgroup folder, file whose count says the limit was hit) or (None, reason)."""
    v2 = "/sys/fs/cgroup/cgroup.controllers"
    if os.path.exists(v2) and "memory" in open(v2).read().split():
        d = os.path.join("/sys/fs/cgroup", name)
        try:
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, "memory.max"), "w").write(str(limit))
            open(os.path.join(d, "memory.swap.max"), "w").write("0")
            return d, None
        except OSError as e:
            return None, f"cgroup v2 at /sys/fs/cgroup not writable ({e})"
    v1 = "/sys/fs/cgroup/memory"
    if os.path.isdir(v1):
        d = os.path.join(v1, name)
        try:
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, "memory.limit_in_bytes"), "w").write(str(limit))
            return d, None
        except OSError as e:
            return None, f"cgroup v1 memory controller not writable ({e})"
    return None, "no cgroup memory controller under /sys/fs/cgroup"


def limit_hits(d):
    for f, key in (("memory.events", "max"), ("memory.failcnt", None)):
        p = os.path.join(d, f)
        if os.path.exists(p):
            text = open(p).read()
            if key is None:
                return int(text)
            for line in text.splitlines():
                k, v = line.split()
                if k == key:
                    return int(v)
    return -1


def peak_anonymous(cmd, env):
    """Runs cmd; returns its peak RssAnon in bytes, polled from /proc."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            pass
        time.sleep(0.005)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: exit {p.returncode}")
    return peak


def main():
    maxact, fixture_script, python, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = os.path.join(work, "model")
    # The benchmark shape with 16 layers: 469 MB of bf16 weights.
    subprocess.run([python, fixture_script, "--family", "qwen3", "--preset", "bench", "--layers",
                    "16", "--out", model], check=True, stdout=subprocess.DEVNULL)
    weights = os.path.getsize(os.path.join(model, "model.safetensors"))
    env = dict(os.environ)
    # AddressSanitizer's quarantine and allocator would keep freed layers' memory: the scan's own
    # footprint is then what the test measures, not the sanitizer's.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":quarantine_size_mb=8:allocator_release_to_os_interval_ms=0")
    ids = os.path.join(work, "ids.jsonl")
    r = random.Random(0)
    with open(ids, "w") as f:
        for _ in range(6):
            f.write(json.dumps({"input_ids": [r.randrange(32000) for _ in range(48)]}) + "\n")
    args = ["--corpus", ids, "--ids-native", "--window-tokens", "96", "--threads", "2"]
    ref = os.path.join(work, "unlimited.json")
    anonymous = peak_anonymous([maxact, "scan", model, "-q", "-o", ref] + args, env)
    limit = anonymous + (32 << 20)
    if weights < limit * 1.5:
        sys.exit(f"FAIL: the scan needs {anonymous >> 20} MiB of its own: the {weights >> 20} MiB "
                 "checkpoint is not enough larger than a limit above that")

    # Out of the page cache: pages cached by the unlimited run stay charged to its cgroup, and the
    # limited run would read them without touching its limit.
    fd = os.open(os.path.join(model, "model.safetensors"), os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    name = f"maxact_low_memory_{os.getpid()}"
    cg, why = make_cgroup(name, limit)
    if cg is None:
        print(f"SKIP: {why}; the scan of a model larger than memory is not tested here")
        sys.exit(77)
    try:
        out = os.path.join(work, "limited.json")
        t0 = time.time()
        p = subprocess.run(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg, maxact,
                            "scan", model, "-o", out] + args, capture_output=True, text=True,
                           env=env)
        seconds = time.time() - t0
        hits = limit_hits(cg)
    finally:
        time.sleep(0.2)
        try:
            os.rmdir(cg)
        except OSError:
            pass
    if p.returncode != 0:
        sys.exit(f"FAIL: the scan inside a {limit >> 20} MiB cgroup failed ({p.returncode}):\n"
                 f"{p.stderr}")
    if normalized_report(out) != normalized_report(ref):
        sys.exit("FAIL: the report under the memory limit differs from the unlimited one")
    if "more than the memory available" not in p.stderr or "--window-tokens" not in p.stderr:
        sys.exit(f"FAIL: no recommendation for a model larger than memory:\n{p.stderr}")
    if hits == 0:
        sys.exit("FAIL: the cgroup's limit was never reached: the test proves nothing")
    print(f"ok   {weights / 1e6:.0f} MB of weights scanned inside a {limit >> 20} MiB cgroup (the "
          f"scan's own peak {anonymous >> 20} MiB + 32) in {seconds:.1f} s (limit reached {hits} "
          "times): report identical to the unlimited run's; the scan recommended a "
          "--window-tokens")


if __name__ == "__main__":
    main()
