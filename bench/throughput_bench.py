#!/usr/bin/env python3
"""Throughput of `maxact scan` on the benchmark shape, in one run: tokens/s for fp32 and bf16 with
every tap and with one tap (about the forward pass alone), each with its per-phase profile
(`scan --profile`) and peak RSS; the same run's PyTorch plain forward (fp32, bf16) of the project's
reference modules; OpenBLAS sgemm and maxact's linear kernel in GFLOP/s; the kernels that ran.

  bench/throughput_bench.py [--build build-bench] [--work /tmp/maxact-throughput]
                            [--sequences 8] [--length 512] [--threads 2] [--rounds 2]
                            [--scaling] [--no-torch]

It builds what it needs (Release, with the benchmark programs, in --build), writes the benchmark
checkpoint with the fixture generator (Qwen3 layout, hidden 1024, 16 / 8 heads of 64,
intermediate 3072, 12 layers, vocabulary 32000) and random ids. --scaling adds full-statistics
fp32 runs at 1 and 2 threads and at 512 / 2048 / 8192-token sequences (same total tokens).
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for every program (set, they hold OpenBLAS to its
AVX2 kernels). Figures, not tests: machines are noisy, so compare ratios from one run.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

import scan_bench  # bench/scan_bench.py: it writes the benchmark checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
ENV = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
# The decoder's linear layers per token: q, k, v, o, gate, up, down of the benchmark shape.
H, I, Q, KV, LAYERS = 1024, 3072, 16 * 64, 8 * 64, 12
LINEAR_FLOP_PER_TOKEN = LAYERS * 2 * (H * (Q + 2 * KV) + Q * H + 3 * H * I)


def build(d):
    if not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", ROOT, "-B", d, "-DCMAKE_BUILD_TYPE=Release",
                        "-DMAXACT_BUILD_TESTS=OFF", "-DMAXACT_BUILD_BENCH=ON"], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", d, "-j", str(os.cpu_count() or 2), "--target", "maxact_cli",
                    "linear_bench", "stats_bench"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(d, "maxact"), os.path.join(d, "bench")


def checkpoint(work):
    return scan_bench.gen(work, LAYERS)


def ids_file(work, sequences, length):
    r = random.Random(0)
    seqs = [[r.randrange(32000) for _ in range(length)] for _ in range(sequences)]
    path = os.path.join(work, f"ids_{sequences}x{length}.jsonl")
    with open(path, "w") as f:
        for ids in seqs:
            f.write(json.dumps({"input_ids": ids}) + "\n")
    return path, seqs


def scan(maxact, model, ids, threads, precision, one_tap, work, profile=True):
    """One scan with --profile: (tokens/s, run JSON, phases {name: seconds}, peak RSS MiB)."""
    out = os.path.join(work, "scan.json")
    cmd = [maxact, "scan", model, "--corpus", ids, "--ids-native", "--max-seq-len", "0", "-q",
           "--threads", str(threads), "--precision", precision, "-o", out]
    if profile:
        cmd.append("--profile")
    if one_tap:
        cmd += ["--taps", f"layer_{LAYERS - 1}_hidden"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    peak = 0
    # Polled from /proc: ru_maxrss of a child of this (large) Python process would count pages it
    # inherited before exec.
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    err = p.stderr.read()
    if p.returncode != 0:
        raise SystemExit(f"maxact failed ({p.returncode}): {err}")
    run = json.load(open(out))["run"]
    phases = {m.group(1).strip(): float(m.group(2))
              for m in re.finditer(r"^  ([a-z -]+?)\s+([0-9.]+) s", err, re.M)}
    return run["tokens_per_second"], run, phases, peak / 1024


def torch_forward(model, seqs, threads, dtype):
    """tokens/s of the reference modules' plain forward (no hooks), `dtype` weights."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    import torch
    import hf_dense
    torch.set_num_threads(threads)
    ref = hf_dense.load(model, dtype)
    with torch.no_grad():
        ref.text(torch.tensor(seqs[0][:64]))  # warm-up
        t0 = time.time()
        for ids in seqs:
            ref.text(torch.tensor(ids))
    return sum(len(s) for s in seqs) / (time.time() - t0)


def linear_bench(bench_dir, threads, tokens):
    """(OpenBLAS sgemm, maxact linear kernel) GFLOP/s on the MLP's shapes, summed over both."""
    res = []
    for shape in ([str(tokens), str(H), str(2 * I)], [str(tokens), str(I), str(H)]):
        out = subprocess.run([os.path.join(bench_dir, "linear_bench"), *shape, str(threads), "5"],
                             env=ENV, check=True, capture_output=True, text=True).stdout
        res.append(out.strip())
    return res


def show_phases(phases, seconds):
    return "  ".join(f"{k} {100 * v / seconds:.0f}%" for k, v in phases.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--work", default="/tmp/maxact-throughput")
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--baseline", help="another maxact binary (an older build) run alongside, "
                    "interleaved, without --profile")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    maxact, bench_dir = build(a.build)
    model = checkpoint(a.work)
    ids, seqs = ids_file(a.work, a.sequences, a.length)
    tokens = a.sequences * a.length
    print(f"benchmark shape: Qwen3 layout, hidden {H}, {LAYERS} layers, {a.sequences} x {a.length} "
          f"random ids, {a.threads} threads; {LINEAR_FLOP_PER_TOKEN / 1e6:.0f} MFLOP per token in "
          "the linear layers")
    for line in linear_bench(bench_dir, a.threads, min(tokens, 2048)):
        print("  " + line)
    results, kernels = {}, {}
    for rnd in range(a.rounds):
        for precision in ("fp32", "bf16"):
            for one in (False, True):
                tps, run, phases, rss = scan(maxact, model, ids, a.threads, precision, one, a.work)
                key = (precision, one)
                results.setdefault(key, []).append(tps)
                kernels[precision] = (f"linear {run['linear_kernel']}, statistics "
                                      f"{run['stats_kernel']}, OpenBLAS {run['blas_core']}")
                name = f"{precision}, {'one tap  ' if one else 'every tap'}"
                print(f"round {rnd + 1} {name}: {tps:6.0f} tokens/s  peak RSS {rss:4.0f} MiB  "
                      f"[{show_phases(phases, run['seconds'])}]  linear "
                      f"{LINEAR_FLOP_PER_TOKEN * tps / 1e9:.0f} GFLOP/s effective")
                if a.baseline:
                    tps, _, _, rss = scan(a.baseline, model, ids, a.threads, precision, one,
                                          a.work, profile=False)
                    results.setdefault(("baseline",) + key, []).append(tps)
                    print(f"        baseline: {tps:6.0f} tokens/s  peak RSS {rss:4.0f} MiB")
    for precision, k in kernels.items():
        print(f"kernels, {precision}: {k}")
    best = {k: max(v) for k, v in results.items()}
    for p in ("fp32", "bf16"):
        print(f"{p}: every tap {best[(p, False)]:.0f} tokens/s, one tap {best[(p, True)]:.0f}: "
              f"ratio {best[(p, False)] / best[(p, True)]:.2f} (statistics "
              f"{100 * (1 - best[(p, False)] / best[(p, True)]):.0f} % of the scan)")
    print(f"bf16 / fp32, every tap: {best[('bf16', False)] / best[('fp32', False)]:.2f}")
    if a.baseline:
        for p in ("fp32", "bf16"):
            for one in (False, True):
                b = best[("baseline", p, one)]
                print(f"baseline {p}, {'one tap' if one else 'every tap'}: {b:.0f} tokens/s; this "
                      f"build x{best[(p, one)] / b:.2f}")
    if not a.no_torch:
        for dtype_name in ("float32", "bfloat16"):
            import torch
            tps = torch_forward(model, seqs, a.threads, getattr(torch, dtype_name))
            print(f"PyTorch plain forward ({dtype_name}, reference modules, no hooks): "
                  f"{tps:.0f} tokens/s")
    if a.scaling:
        print("scaling, fp32, every tap:")
        for threads in (1, 2):
            tps, run, phases, _ = scan(maxact, model, ids, threads, "fp32", False, a.work)
            print(f"  {threads} thread(s), {a.length}-token sequences: {tps:.0f} tokens/s "
                  f"[{show_phases(phases, run['seconds'])}]")
        total = max(tokens, 8192)
        for length in (512, 2048, 8192):
            path, _ = ids_file(a.work, max(1, total // length), length)
            tps, run, phases, _ = scan(maxact, model, path, a.threads, "fp32", False, a.work)
            print(f"  {a.threads} threads, {length}-token sequences ({total // length} of them): "
                  f"{tps:.0f} tokens/s [{show_phases(phases, run['seconds'])}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
