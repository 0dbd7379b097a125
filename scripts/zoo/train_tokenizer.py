#!/usr/bin/env python3
"""Trains the zoo's byte-level BPE tokenizer on the training part of the built-in corpus and writes
zoo/tokenizer/{tokenizer.json,tokenizer_config.json}. Deterministic: same corpus, same file.

  scripts/zoo/train_tokenizer.py [--vocab 4096] [--out zoo/tokenizer]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import zoo_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--out", default=os.path.join(zoo_data.ZOO, "tokenizer"))
    a = ap.parse_args()
    train, _ = zoo_data.split()
    t0 = time.time()
    vocab, merges = bpe.train([s["text"] for s in train], a.vocab)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(bpe.tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(bpe.tokenizer_config(), f, indent=2)
        f.write("\n")
    print(f"{len(vocab)} tokens ({len(merges)} merges) from {len(train)} samples "
          f"in {time.time() - t0:.1f} s -> {a.out}")


if __name__ == "__main__":
    main()
