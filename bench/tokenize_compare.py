#!/usr/bin/env python3
"""Tokenizer speed against Hugging Face's tokenizers on the same text and tokenizer, same run.

  bench/tokenize_compare.py [--build build-bench] [--tokref build-test/tests/tokref]

Needs the tokenizer reference data (the tokenizer.setup test, or tests/tokenizer/setup_reference.py
OUT_DIR) and a build with -DMAXACT_BUILD_BENCH=ON. Prints MB/s and tokens/s single-threaded for
both and the ratio, plus maxact on all cores.
"""
import argparse
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-bench"))
    ap.add_argument("--tokref", default=os.path.join(HERE, "..", "build-test", "tests", "tokref"))
    ap.add_argument("--names", default="llama3,qwen3,gemma3")
    ap.add_argument("--repeat", default="3")
    a = ap.parse_args()
    m = json.load(open(os.path.join(a.tokref, "manifest.json")))
    modules = m["node_modules"]
    corpus = m["corpus"]
    nproc = os.cpu_count()
    print(f"corpus {corpus}: {m['corpus_bytes']} bytes, {m['documents']} documents")
    print(f"{'tokenizer':<10} {'impl':<16} {'thr':>3} {'MB/s':>8} {'Mtok/s':>8} {'load s':>7}")
    for name in a.names.split(","):
        d = m["tokenizers"][name]["dir"]
        env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        hf_rows = [json.loads(l) for l in subprocess.check_output(
            ["node", os.path.join(HERE, "tokenize_bench.js"), modules, os.path.join(d, "tokenizer.json"),
             corpus, a.repeat], env=env).splitlines()]
        hf = min(hf_rows, key=lambda r: r["seconds"])  # the faster of encode / encodeBatch
        rows = list(hf_rows)
        for threads in (1, nproc):
            rows.append(json.loads(subprocess.check_output(
                [os.path.join(a.build, "bench", "tokenize_bench"), d, corpus, str(threads), a.repeat])))
        for r in rows:
            print(f"{name:<10} {r['impl']:<16} {r['threads']:>3} {r['bytes'] / r['seconds'] / 1e6:>8.2f} "
                  f"{r['tokens'] / r['seconds'] / 1e6:>8.3f} {r['load_seconds']:>7.2f}")
        mx1 = rows[len(hf_rows)]
        if mx1["tokens"] != hf["tokens"]:
            print(f"  WARNING: token counts differ ({mx1['tokens']} vs {hf['tokens']})")
        print(f"  {name}: maxact / tokenizers ({hf['impl']}), single thread: x{hf['seconds'] / mx1['seconds']:.2f}")


if __name__ == "__main__":
    main()
