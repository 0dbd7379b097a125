#!/usr/bin/env python3
"""Benchmark: `maxact scan` on a Gated DeltaNet hybrid (qwen3_5: three linear-attention layers,
then one gated full-attention layer) against a dense qwen3 of the same hidden size and MLP, and
against the PyTorch reference (tests/reference, whose delta rule is the per-token recurrence) on
the hybrid; same token ids, same run (ratios, since machines are noisy).

  bench/hybrid_bench.py [--maxact build-release/maxact] [--work /tmp/maxact-hybrid-bench]
                        [--sequences 8] [--length 256] [--threads 0] [--layers 4]

Shapes: the benchmark shape (hidden 1024, intermediate 3072, 16 query / 8 KV heads of 64); the
linear layers have 4 key heads and 8 value heads of 128 (Qwen3.5's head size).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
sys.path.insert(0, HERE)
from moe_bench import gen  # noqa: E402
from scan_bench import compare_with_reference, parse_common, run_maxact  # noqa: E402


def main():
    a, seqs, ids_path, tokens = parse_common(
        "/tmp/maxact-hybrid-bench", lambda ap: ap.add_argument("--layers", type=int, default=4))
    dense, _ = gen(a.work, "qwen3", a.layers, [])
    hybrid, _ = gen(a.work, "qwen3_5", a.layers, [])
    res = {}
    for name, model in (("dense", dense), ("hybrid", hybrid)):
        run, wall, rss = run_maxact(a, model, ids_path)
        res[name] = run["tokens_per_second"]
        print(f"maxact {name:6}: {tokens} tokens, {run['tokens_per_second']:.0f} tokens/s "
              f"({run['threads']} threads), peak RSS {rss[0] / 1024:.0f} MiB")
    print(f"ratio hybrid / dense: {res['hybrid'] / res['dense']:.2f}x")

    compare_with_reference(hybrid, seqs, a.threads, res["hybrid"], " on the hybrid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
