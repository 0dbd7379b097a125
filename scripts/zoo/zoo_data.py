"""The zoo's data: the built-in corpus, split into training and held-out samples.

Every tenth sample (id % 10 == 9) is held out. The corpus file is ordered by category, so the
held-out tenth covers every domain in proportion; the tokenizer and the models never see it.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "data", "corpus", "builtin.jsonl")
ZOO = os.path.join(ROOT, "zoo")


def samples():
    with open(CORPUS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def held_out(sample):
    return sample["id"] % 10 == 9


def split():
    s = samples()
    return [x for x in s if not held_out(x)], [x for x in s if held_out(x)]
