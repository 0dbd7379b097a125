#!/usr/bin/env python3
"""Benchmark: opening a checkpoint reads headers only, so `maxact inspect` costs the same for a
200 KB and a 140 GB checkpoint with the same tensor count, and grows only with the number of
tensors. Checkpoints are written sparse (headers + holes), so the benchmark needs no disk space.

  bench/open_checkpoint.py [--maxact build-release/maxact] [--repeat 5] [--work /tmp/maxact-bench]

Prints, per checkpoint: tensors, bytes on paper, median wall time of `maxact inspect`, and peak
RSS of the process; then the ratios against the tiny checkpoint.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "tests", "fixtures", "make_fixture.py")


def peak_rss_kib(cmd):
    """Runs cmd in a fresh child and returns (seconds, its ru_maxrss in KiB)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    t0 = time.perf_counter()
    _, status, usage = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return dt, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxact", default=os.path.join(HERE, "..", "build-release", "maxact"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", default="/tmp/maxact-bench-open")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    cases = [
        ("tiny llama, 2 layers", ["--preset", "tiny"]),
        ("70B-shaped llama, 2 layers", ["--preset", "large", "--layers", "2"]),
        ("70B-shaped llama, 80 layers, 30 shards", ["--preset", "large", "--shards", "30"]),
    ]
    rows = []
    for name, args in cases:
        out = os.path.join(a.work, str(len(rows)))
        subprocess.run([sys.executable, GEN, "--family", "llama", "--sparse", "--out", out] + args,
                       check=True, stdout=subprocess.DEVNULL)
        info = json.load(open(os.path.join(out, "fixture.json")))
        times, rss = [], []
        for _ in range(a.repeat):
            dt, r = peak_rss_kib([a.maxact, "inspect", out])
            times.append(dt)
            rss.append(r)
        du = int(subprocess.check_output(["du", "-sk", out]).split()[0])
        rows.append((name, info["tensors_on_disk"], info["bytes"], statistics.median(times),
                     max(rss), du))
    print(f"{'checkpoint':<40} {'tensors':>8} {'bytes':>16} {'on disk':>10} {'median s':>9} "
          f"{'peak RSS':>10}")
    for name, n, b, t, r, du in rows:
        print(f"{name:<40} {n:>8} {b:>16,} {du:>8} K {t:>9.4f} {r / 1024:>8.1f} M")
    base = rows[0]
    for name, n, b, t, r, _ in rows[1:]:
        print(f"{name}: {b / base[2]:,.0f}x the bytes, {n / base[1]:.1f}x the tensors -> "
              f"time x{t / base[3]:.2f}, peak RSS x{r / base[4]:.2f}")
    shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
