#!/usr/bin/env python3
"""maxact's importance matrices read by a third-party GGUF parser, Hugging Face's npm
@huggingface/gguf (fetched at test time into the test cache, never into the repository), and
compared with the test suite's own reader (gguf_reader.py): the same keys, values and types, the
same tensors with the same shapes, types and offsets, and the same values at the data offset the
third-party parser reports.

  check_gguf_thirdparty.py MAXACT FIXTURES_DIR WORK_DIR

Any failure (no node / npm, registry unreachable) exits non-zero: the check never skips silently.
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tokenizer"))
import gguf_reader  # noqa: E402
from setup_reference import npm_modules  # noqa: E402

VERSION = "0.4.6"
# Which GGUF value type each key must have (4 = u32, 8 = string, 9 = array), as llama-quantize
# requires them.
KEY_TYPES = {"general.type": 8, "imatrix.datasets": 9, "imatrix.chunk_count": 4,
             "imatrix.chunk_size": 4}


def main():
    maxact, fixtures, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    modules = npm_modules("@huggingface/gguf", VERSION)
    ids = os.path.join(work, "ids.jsonl")
    with open(ids, "w") as f:
        for i in range(6):
            f.write(json.dumps({"input_ids": [(7 * i + 13 * k) % 200 for k in range(5 + 9 * i)]}) + "\n")
    errors = []
    # Dense, MoE with per-expert rows, and Qwen3.5-MoE (reordered ssm_out, fused experts).
    for fixture in ("qwen3", "qwen3_moe", "qwen3_5_moe"):
        path = os.path.join(work, fixture + ".imatrix.gguf")
        subprocess.run([maxact, "scan", os.path.join(fixtures, fixture), "--corpus", ids,
                        "--ids-native", "-q", "--imatrix", path], check=True,
                       stdout=subprocess.DEVNULL)
        theirs = json.loads(subprocess.run(["node", os.path.join(HERE, "gguf_hf_read.mjs"),
                                            modules, path], check=True, capture_output=True,
                                           text=True).stdout)
        meta, tensors = gguf_reader.read(path)
        m = theirs["metadata"]
        if (m.get("version"), m.get("tensor_count"), m.get("kv_count")) != (3, len(tensors),
                                                                            len(meta)):
            errors.append(f"{fixture}: header {m.get('version')}/{m.get('tensor_count')}/"
                          f"{m.get('kv_count')} vs ours 3/{len(tensors)}/{len(meta)}")
        for key, want_type in KEY_TYPES.items():
            if key not in meta or meta[key][0] != want_type:
                errors.append(f"{fixture}: {key} missing or of type {meta.get(key, (None,))[0]}")
            elif m.get(key) != meta[key][1]:
                errors.append(f"{fixture}: {key} = {m.get(key)!r} (hf) vs {meta[key][1]!r}")
        infos = theirs["tensorInfos"]
        if [t["name"] for t in infos] != list(tensors):
            errors.append(f"{fixture}: tensor names or order differ")
            continue
        data = open(path, "rb").read()
        start = theirs["tensorDataOffset"]
        for t in infos:
            ne, ours = tensors[t["name"]]
            if t["shape"] != ne or t["dtype"] != 0 or t["n_dims"] != len(ne):
                errors.append(f"{fixture}: {t['name']} shape {t['shape']} type {t['dtype']} vs "
                              f"{ne} F32")
                continue
            n = int(np.prod(ne))
            theirs_values = np.frombuffer(data, "<f4", n, start + t["offset"])
            if not np.array_equal(theirs_values, ours):
                errors.append(f"{fixture}: {t['name']} values at the hf offset differ")
        print(f"{fixture}: {len(infos)} tensors, {len(meta)} keys read alike by @huggingface/gguf "
              f"{VERSION} and gguf_reader.py")
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
