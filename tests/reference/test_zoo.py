#!/usr/bin/env python3
"""The zoo's models learnt something: each committed checkpoint (bf16 weights, computed in fp32
through the PyTorch reference) has a held-out loss clearly below that of its random
initialisation, re-created from the training script's seed. Also checks the checkpoint is the one
the training log describes (the same held-out loss, which the training script computed from the
saved file, within 1e-4) and that the zoo tokenizer's Python encoder, which prepared the training
data, agrees with maxact's tokenizer on held-out text.

  test_zoo.py MAXACT ZOO_DIR [--samples N]

Held-out = every tenth sample of the built-in corpus (id % 10 == 9), never trained on.
"""
import argparse
import json
import os
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "zoo"))
import compare_scan  # noqa: E402  (beside this file)
import hf_dense  # noqa: E402
import models  # noqa: E402
import train_models  # noqa: E402
import zoo_data  # noqa: E402

MARGIN = 2.0  # nats: init is ~ln(4096) = 8.3; a model that learnt the corpus is far below


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maxact")
    ap.add_argument("zoo")
    ap.add_argument("--samples", type=int, default=48)
    a = ap.parse_args()
    torch.set_num_threads(1)
    enc = train_models.tokenizer()
    seqs = train_models.held_out_sequences(enc, a.samples)
    failures = []
    # The encoder that made the training data against maxact's tokenizer (itself checked id by id
    # against Hugging Face's tokenizers): same ids on every held-out sample used here.
    _, held = zoo_data.split()
    with tempfile.TemporaryDirectory() as tmp:
        for s in held[:a.samples]:
            ids = compare_scan.maxact_tokenize(a.maxact, os.path.join(a.zoo, "tokenizer"),
                                               s["text"], os.path.join(tmp, "t.txt"))
            if ids != enc.encode(s["text"]):
                failures.append(f"tokenizer: sample {s['id']} differs between maxact and bpe.py")
    for name in models.CONFIGS:
        folder = os.path.join(a.zoo, name)
        log = json.load(open(os.path.join(folder, "training_log.json")))
        trained = train_models.evaluate(hf_dense.load(folder, torch.float32), seqs)
        init = train_models.evaluate(models.build(name, log["seed"]), seqs)
        logged = log["checkpoint_check"]
        print(f"{name}: held-out loss {trained:.4f} (random init {init:.4f}; "
              f"{len(seqs)} samples, {sum(len(s) - 1 for s in seqs)} predicted tokens)")
        if not trained < init - MARGIN:
            failures.append(f"{name}: held-out loss {trained:.4f} not below init {init:.4f} - {MARGIN}")
        if logged["samples"] == len(seqs) and abs(trained - logged["held_out_loss"]) > 1e-4:
            failures.append(f"{name}: held-out loss {trained:.4f} vs "
                            f"{logged['held_out_loss']:.4f} in training_log.json")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
