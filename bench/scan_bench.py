#!/usr/bin/env python3
"""Benchmark: `maxact scan` (fp32, every tap, full statistics) against the project's PyTorch
reference collecting the same statistics with forward hooks (tests/reference), same checkpoint and
token ids, same run; plus peak RSS against depth (one layer + window, not the model).

  bench/scan_bench.py [--maxact build-release/maxact] [--work /tmp/maxact-scan-bench]
                      [--sequences 8] [--length 256] [--threads 0]

The checkpoint is the benchmark shape: Qwen3 layout, hidden 1024, 16 query / 8 KV heads of 64,
intermediate 3072, vocabulary 32000, 4 and 12 layers; written by the fixture generator with
--preset bench. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for maxact's run (set, e.g. to
Haswell, they hold OpenBLAS to its AVX2 kernels); the kernel that ran is printed.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))


def gen(work, layers):
    out = os.path.join(work, f"bench_L{layers}")
    if not os.path.exists(os.path.join(out, "config.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fixtures", "make_fixture.py"),
                        "--family", "qwen3", "--preset", "bench", "--layers", str(layers),
                        "--out", out], check=True, stdout=subprocess.DEVNULL)
    return out


def run_maxact(a, model, ids_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = os.path.join(a.work, "scan.json")
    t0 = time.time()
    p = subprocess.Popen([a.maxact, "scan", model, "--corpus", ids_path, "--ids-native", "-q",
                          "--max-seq-len", "0", "--threads", str(a.threads), "-o", out],
                         stdout=subprocess.DEVNULL, env=env)
    # Peak resident memory, polled from /proc: ru_maxrss of a child forked from this (large)
    # Python process would count the parent's pages it inherited before exec.
    peak = anon = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            peak = max(peak, int(st["VmHWM"].split()[0]))
            anon = max(anon, int(st["RssAnon"].split()[0]))
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.02)
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit(f"maxact failed with status {p.returncode}")
    run = json.load(open(out))["run"]
    return run, wall, (peak, anon)


def parse_common(work, extra=lambda ap: None):
    """The benchmarks' shared options, and the random ids they run (written to WORK/ids.jsonl):
    returns (args, sequences, ids path, token count)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxact", default=os.path.join(ROOT, "build-release", "maxact"))
    ap.add_argument("--work", default=work)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0)
    extra(ap)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    r = random.Random(0)
    seqs = [(i, [r.randrange(32000) for _ in range(a.length)]) for i in range(a.sequences)]
    ids_path = os.path.join(a.work, "ids.jsonl")
    with open(ids_path, "w") as f:
        for _, ids in seqs:
            f.write(json.dumps({"input_ids": ids}) + "\n")
    return a, seqs, ids_path, a.sequences * a.length


def compare_with_reference(model, seqs, threads, maxact_tps, what):
    """The PyTorch reference (tests/reference) on the same ids, with its hooks and float64
    statistics and as a bare forward pass: prints both speeds and maxact's ratio to each."""
    import torch  # noqa: E402
    import hf_dense  # noqa: E402
    import tap_reference  # noqa: E402
    torch.set_num_threads(max(1, threads or os.cpu_count()))
    tokens = sum(len(ids) for _, ids in seqs)
    ref = hf_dense.load(model, torch.float32)
    t0 = time.time()
    tap_reference.run(ref, seqs, torch.float32)
    ref_s = time.time() - t0
    t0 = time.time()
    with torch.no_grad():
        for _, ids in seqs:
            ref.text(torch.tensor(ids))
    fwd_s = time.time() - t0
    print(f"PyTorch reference{what}, hooks + float64 statistics: {tokens / ref_s:.0f} tokens/s; "
          f"forward alone: {tokens / fwd_s:.0f} tokens/s ({torch.get_num_threads()} threads)")
    print(f"ratio maxact / reference with hooks: {maxact_tps * ref_s / tokens:.1f}x; "
          f"/ PyTorch forward alone: {maxact_tps * fwd_s / tokens:.1f}x")


def main():
    a, seqs, ids_path, tokens = parse_common("/tmp/maxact-scan-bench")

    model4 = gen(a.work, 4)
    run, wall, rss = run_maxact(a, model4, ids_path)
    m_tps = run["tokens_per_second"]
    # Linear-layer FLOPs per token and layer (q, k, v, o, gate, up, down) of the anchor shape.
    H, I, q, kv = 1024, 3072, 16 * 64, 8 * 64
    flop_layer = 2 * (H * (q + 2 * kv) + q * H + 3 * H * I)
    print(f"maxact   4 layers: {tokens} tokens in {run['seconds']:.2f} s scan "
          f"({wall:.2f} s wall): {m_tps:.0f} tokens/s, {run['threads']} threads, peak RSS "
          f"{rss[0] / 1024:.0f} MiB (anonymous {rss[1] / 1024:.0f} MiB); linear layers "
          f"{m_tps * 4 * flop_layer / 1e9:.0f} GFLOP/s effective over the whole scan")
    lb = os.path.join(ROOT, "build-bench", "bench", "linear_bench")
    if os.path.exists(lb):
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        for shape in (["512", "1024", "3072"], ["512", "3072", "1024"]):
            out = subprocess.run([lb, *shape, str(a.threads), "7"], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip()
            print(out)

    compare_with_reference(model4, seqs, a.threads, m_tps, "")

    model12 = gen(a.work, 12)
    run12, _, rss12 = run_maxact(a, model12, ids_path)
    size4 = sum(os.path.getsize(os.path.join(model4, f)) for f in os.listdir(model4))
    size12 = sum(os.path.getsize(os.path.join(model12, f)) for f in os.listdir(model12))
    print(f"maxact  12 layers: {run12['tokens_per_second']:.0f} tokens/s; peak RSS "
          f"{rss12[0] / 1024:.0f} MiB (anonymous {rss12[1] / 1024:.0f}) for a "
          f"{size12 / 2**20:.0f} MiB checkpoint; 4 layers: {rss[0] / 1024:.0f} MiB "
          f"(anonymous {rss[1] / 1024:.0f}) for {size4 / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
