#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the project's own
data: the zoo's configs and tokenizer, fixture configs of every family, the built-in corpus,
small valid safetensors files of every dtype, and a scan report. Re-run after adding a family or
a format; the output is committed.

  make_seeds.py MAXACT_BINARY FIXTURE_DIR   (FIXTURE_DIR: make_fixture.py --all output)
"""
import json
import os
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, size) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + size]}
        blobs += bytes((i * 37) & 0xFF for i in range(size))
        off += size
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blobs


def main():
    maxact, fixtures = sys.argv[1], sys.argv[2]
    shutil.rmtree(OUT, ignore_errors=True)
    # config: every fixture family and the zoo.
    for name in sorted(os.listdir(fixtures)):
        cfg = os.path.join(fixtures, name, "config.json")
        if os.path.exists(cfg):
            put("config", name + ".json", open(cfg, "rb").read())
    for z in ("llama-tiny", "gemma3-tiny", "qwen3-moe-tiny"):
        put("config", "zoo_" + z + ".json", open(os.path.join(ROOT, "zoo", z, "config.json"), "rb").read())
    # safetensors: single files of every dtype, metadata, an empty tensor; index files.
    sizes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8,
             "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    put("safetensors", "all_dtypes.bin",
        safetensors({f"t.{d}": (d, [2, 3], 6 * s) for d, s in sizes.items()}, {"format": "pt"}))
    put("safetensors", "empty_tensor.bin", safetensors({"e": ("F32", [0, 4], 0), "s": ("F32", [], 4)}))
    put("safetensors", "llama_like.bin", safetensors({
        "model.embed_tokens.weight": ("BF16", [8, 4], 64),
        "model.layers.0.self_attn.q_proj.weight": ("BF16", [4, 4], 32),
        "model.norm.weight": ("F32", [4], 16)}))
    put("safetensors", "index.json", json.dumps(
        {"metadata": {"total_size": 16}, "weight_map": {"a": "a.safetensors", "b": "b.safetensors"}}))
    # tokenizer: the zoo's tokenizer and a fixture's byte-level one, each with text to encode.
    text = "Hello world! 123 \u00e9t\u00e9 \u4f60\u597d <eos> \n\n  code: x = f(y)"
    put("tokenizer", "zoo.bin", open(os.path.join(ROOT, "zoo", "tokenizer", "tokenizer.json"), "rb").read()
        + b"\0" + text.encode())
    for name in sorted(os.listdir(fixtures)):
        tok = os.path.join(fixtures, name, "tokenizer.json")
        if os.path.exists(tok):
            put("tokenizer", name + ".bin", open(tok, "rb").read() + b"\0" + text.encode())
    # corpus: built-in lines of every category, token ids, malformed lines.
    seen = {}
    for line in open(os.path.join(ROOT, "data", "corpus", "builtin.jsonl"), encoding="utf-8"):
        cat = json.loads(line).get("category", "")
        if len(seen.get(cat, "")) < 2000:
            seen[cat] = seen.get(cat, "") + line
    for cat, lines in sorted(seen.items()):
        put("corpus", cat + ".jsonl", lines)
    put("corpus", "ids.jsonl", '{"input_ids": [1, 2, 3], "category": "a"}\n{"input_ids": []}\n'
        '{"text": null, "input_ids": [7]}\n')
    put("corpus", "bad.jsonl", '{"text": 5}\nnot json\n{"text": "ok", "category": 3}\n[1]\n')
    # report: a scan of the zoo's llama over a few samples, with the quantization check.
    work = os.path.join(OUT, "..", "_work")
    os.makedirs(work, exist_ok=True)
    rep = os.path.join(work, "scan.json")
    subprocess.run([maxact, "scan", os.path.join(ROOT, "zoo", "llama-tiny"), "-q", "--quant",
                    "--calib", "4", "--eval", "4", "--max-seq-len", "32", "--topk", "3",
                    "--quant-layers", "all", "--taps", "layer_1_*", "-o", rep], check=True, stdout=subprocess.DEVNULL)
    put("report", "zoo_llama_quant.json", open(rep, "rb").read())
    # report: the MoE zoo model with what the HTML pages read (experts, categories, token
    # contexts, the quantization check), per-channel arrays the pages do not read left out.
    rep = os.path.join(work, "moe.json")
    subprocess.run([maxact, "scan", os.path.join(ROOT, "zoo", "qwen3-moe-tiny"), "-q", "--quant",
                    "--calib", "2", "--eval", "3", "--max-seq-len", "24", "--topk", "3",
                    "--quant-layers", "peak", "--taps",
                    "model.embed_tokens,model.layers.0*,model.layers.1,model.norm", "-o", rep],
                   check=True, stdout=subprocess.DEVNULL)
    moe = json.load(open(rep))
    for t in moe["taps"]:
        for k in ("channel_sum_sq", "channel_max", "channel_min", "token_max_histogram"):
            t["stats"].pop(k, None)
        t["stats"]["histogram_abs"]["bins"] = t["stats"]["histogram_abs"]["bins"][:2]
        if t["component"] != "hidden":
            t["stats"].pop("channel_absmax", None)
    moe["quant"]["calibration"]["sample_indices"] = moe["quant"]["calibration"]["sample_indices"][:2]
    put("report", "zoo_moe_quant_html.json", json.dumps(moe, indent=0, ensure_ascii=False))
    put("report", "minimal.json", json.dumps({
        "schema": "maxact.scan", "model": {"argument": "m", "model_type": "llama"},
        "options": {"precision": "fp32"}, "run": {"tokens": 5},
        "global_max": {"value": -3.5, "abs": 3.5, "tap": "t", "location": {"sample": 0}},
        "taps": [{"stats": {"over_fp16": 0, "over_fp8_e4m3": 2}}],
        "quant": {"pooled": {"int8_max_abs": {"sqnr_db": 31.5, "sqnr_db_clean": 33.0}}}}))
    # report: the study's quant_sanity.json, which `compare --format study` also reads.
    put("report", "study_quant_sanity.json", json.dumps({
        "model_name": "m", "family": "f", "role": None, "reference_global_max_abs": 3.5,
        "metrics": [{"policy": "max_abs", "count": 3, "rel_rmse": 0.25, "rel_mae": 0.5,
                     "clip_rate": 0.0, "sqnr_db": None},
                    {"policy": "clip_q0.999", "count": 0, "rel_rmse": 1.0, "rel_mae": 1.0,
                     "clip_rate": 0.5, "sqnr_db": 2.0}]}))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
