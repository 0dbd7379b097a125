#!/usr/bin/env python3
"""Benchmark: `maxact scan` on an MoE checkpoint against a dense one with the same active
parameter count, and against the PyTorch reference (tests/reference) on the MoE one; same token
ids, same run (ratios, since machines are noisy).

  bench/moe_bench.py [--maxact build-release/maxact] [--work /tmp/maxact-moe-bench]
                     [--sequences 8] [--length 256] [--threads 0] [--layers 4]
                     [--family qwen3_moe|gpt_oss]

Dense: qwen3 at the benchmark shape (hidden 1024, 16 query / 8 KV heads of 64, intermediate
3072). MoE: qwen3_moe,
same attention, 8 experts of width 1536 with top-2 (2 x 1536 = 3072 active), layer 0 dense as
the fixture generator writes it (mlp_only_layers) — so active parameters match up to the router.
gpt_oss: the same expert shapes stored MXFP4 (dequantized per expert hit), attention with biases
and sinks, every layer MoE — active parameters match up to biases, router and sinks.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
sys.path.insert(0, HERE)
from scan_bench import compare_with_reference, parse_common, run_maxact  # noqa: E402


def gen(work, family, layers, extra):
    out = os.path.join(work, f"{family}_L{layers}")
    if not os.path.exists(os.path.join(out, "config.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fixtures", "make_fixture.py"),
                        "--family", family, "--preset", "bench", "--layers", str(layers),
                        "--out", out, *extra], check=True, stdout=subprocess.DEVNULL)
    return out, json.load(open(os.path.join(out, "fixture.json")))


def main():
    def options(ap):
        ap.add_argument("--layers", type=int, default=4)
        ap.add_argument("--family", default="qwen3_moe", choices=["qwen3_moe", "gpt_oss"])

    a, seqs, ids_path, tokens = parse_common("/tmp/maxact-moe-bench", options)

    dense, dinfo = gen(a.work, "qwen3", a.layers, [])
    moe, minfo = gen(a.work, a.family, a.layers, ["--experts", "8", "--expert-intermediate",
                                                   "1536"])
    def decoder_active(model, info):
        # The scan runs no head: active parameters without embeddings and lm_head.
        c = json.load(open(os.path.join(model, "config.json")))
        vh = c["vocab_size"] * c["hidden_size"]
        return info["params_active"] - vh * (1 if c.get("tie_word_embeddings", True) else 2)

    print(f"decoder-layer active parameters: dense {decoder_active(dense, dinfo) / 1e6:.2f} M, "
          f"MoE {decoder_active(moe, minfo) / 1e6:.2f} M "
          f"(total with embeddings and head {minfo['params_total'] / 1e6:.1f} M)")
    res = {}
    for name, model in (("dense", dense), ("moe", moe)):
        run, wall, rss = run_maxact(a, model, ids_path)
        res[name] = run["tokens_per_second"]
        print(f"maxact {name:5}: {tokens} tokens, {run['tokens_per_second']:.0f} tokens/s "
              f"({run['threads']} threads), peak RSS {rss[0] / 1024:.0f} MiB")
    print(f"ratio MoE / dense (same active parameters): {res['moe'] / res['dense']:.2f}x")

    compare_with_reference(moe, seqs, a.threads, res["moe"], " on the MoE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
