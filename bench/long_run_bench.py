#!/usr/bin/env python3
"""Benchmark of long runs (docs/STATE.md): what checkpoints, shards, merges and MPI ranks cost on
the benchmark shape (Qwen3 layout, hidden 1024, 12 layers; 8 sequences of 512 random ids).

  bench/long_run_bench.py [--maxact build-release/maxact] [--work /tmp/maxact-long-bench]
                          [--layers 12] [--rounds 2]

Prints, each the best of --rounds runs alternated with its baseline in the same session:
  * checkpoint overhead: --checkpoint against a plain scan with the same windows (one window per
    sequence), per window, with the state file's size;
  * merge time of the states of 2, 4 and 8 shards (maxact merge -o report.json);
  * MPI on this machine (when maxact has it): 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1
    thread.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def timed(cmd, env=None):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxact", default=os.path.join(ROOT, "build-release", "maxact"))
    ap.add_argument("--work", default="/tmp/maxact-long-bench")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = os.path.join(a.work, f"bench_L{a.layers}")
    if not os.path.exists(os.path.join(model, "config.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fixtures", "make_fixture.py"),
                        "--family", "qwen3", "--preset", "bench", "--layers", str(a.layers),
                        "--out", model], check=True, stdout=subprocess.DEVNULL)
    ids = os.path.join(a.work, "ids.jsonl")
    r = random.Random(0)
    with open(ids, "w") as f:
        for _ in range(8):
            f.write(json.dumps({"input_ids": [r.randrange(32000) for _ in range(512)]}) + "\n")
    base = [a.maxact, "scan", model, "--corpus", ids, "--ids-native", "-q", "--max-seq-len", "0",
            "--window-tokens", "512"]
    version = subprocess.run([a.maxact, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; {a.layers} layers, 8 x 512 tokens, windows of 512 tokens (8 windows)")

    out = os.path.join(a.work, "r.json")
    ck = os.path.join(a.work, "ck")
    plain, check, said = [], [], []
    for _ in range(a.rounds):
        plain.append(timed(base + ["--threads", "2", "-o", out]))
        shutil.rmtree(ck, ignore_errors=True)
        # Not quiet: the scan says what its checkpoints cost, timed inside the run.
        cmd = [x for x in base if x != "-q"] + ["--threads", "2", "-o", out, "--checkpoint", ck]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        check.append(time.perf_counter() - t0)
        said += [l for l in p.stderr.splitlines() if "checkpoints of" in l]
    p, c = min(plain), min(check)
    print(f"checkpoint   plain {p:.2f} s, with --checkpoint {c:.2f} s ({(c / p - 1) * 100:+.1f} %, "
          "whole runs: within the machine's noise)")
    for line in said:
        print(f"             {line}")

    for n in (2, 4, 8):
        states = []
        for i in range(n):
            st = os.path.join(a.work, f"s{i}of{n}.state")
            subprocess.run(base + ["--threads", "2", "--shard", f"{i}/{n}", "--state", st],
                           check=True, stdout=subprocess.DEVNULL)
            states.append(st)
        m = min(timed([a.maxact, "merge"] + states + ["-o", out]) for _ in range(a.rounds))
        print(f"merge        {n} states: {m:.2f} s (reading, checking, merging, rendering the "
              "report)")

    if "MPI: not built in" in version or shutil.which("mpirun") is None:
        print("mpi          not measured: maxact without MPI or no mpirun")
        return
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    one, two, ranks = [], [], []
    for _ in range(a.rounds):
        one.append(timed(base + ["--threads", "1", "-o", out]))
        two.append(timed(base + ["--threads", "2", "-o", out]))
        ranks.append(timed(["mpirun", "--oversubscribe", "-np", "2"] + base +
                           ["--threads", "1", "-o", out], env))
    o, t, k = min(one), min(two), min(ranks)
    print(f"mpi          1 rank x 1 thread {o:.2f} s, 1 rank x 2 threads {t:.2f} s "
          f"({o / t:.2f}x), 2 ranks x 1 thread {k:.2f} s ({o / k:.2f}x)")


if __name__ == "__main__":
    main()
