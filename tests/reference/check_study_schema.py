#!/usr/bin/env python3
"""`maxact scan --format study` writes the study's files with the published layout: the same keys
in the same order with the same JSON types (int / float / str / list / object), header and every
per-layer entry, as tests/fixtures/study/schema.json records them from the study's 186 published
files (key names and types only).

  check_study_schema.py MAXACT SCHEMA WORK FIXTURE [FIXTURE...]

Each fixture is scanned on a few random-id sequences, once plain and once with --quant (the
quant_sanity file); every entry kind the study writes for the family must be present."""
import json
import os
import random
import re
import subprocess
import sys


def type_name(v):
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "object",
            type(None): "null"}[type(v)]


def shape(d):
    return [[k, type_name(v)] for k, v in d.items()]


def load(path):
    with open(path) as f:
        return json.load(f)  # dicts keep the file's key order


def check_file(errors, what, d, schema):
    if shape(d) != schema["header"]:
        errors.append(f"{what}: header {shape(d)} != {schema['header']}")
    kinds = set()
    for name, e in d.get("per_layer_stats", {}).items():
        kind = re.sub(r"^layer_\d+_", "layer_N_", name)
        kinds.add(kind)
        want = schema["entries"].get(kind)
        if want is None:
            errors.append(f"{what}: entry {name}: the study has no such entry")
        elif shape(e) != want:
            errors.append(f"{what}: entry {name}: {shape(e)} != {want}")
        else:
            for k, v in e.items():
                if isinstance(v, list) and any(type_name(x) != "float" for x in v):
                    errors.append(f"{what}: entry {name}.{k}: non-float list items")
    return kinds


def scan(maxact, fixture, ids, out, extra):
    cmd = [maxact, "scan", fixture, "--corpus", ids, "--ids-native", "-q", "--max-seq-len", "0",
           "--format", "study", "-o", out] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    maxact, schema_path, work = sys.argv[1:4]
    fixtures = sys.argv[4:]
    schema = load(schema_path)["files"]
    errors = []
    for fixture in fixtures:
        name = os.path.basename(fixture.rstrip("/"))
        cfg = load(os.path.join(fixture, "config.json"))
        vocab = cfg.get("vocab_size") or cfg.get("text_config", {}).get("vocab_size")
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        ids = os.path.join(d, "ids.jsonl")
        r = random.Random(0)
        with open(ids, "w") as f:
            for i in range(8):
                f.write(json.dumps({"input_ids": [r.randrange(vocab) for _ in range(20 + i)],
                                    "category": "c%d" % (i % 2)}) + "\n")
        plain = os.path.join(d, "plain")
        scan(maxact, fixture, ids, plain, [])
        model = name
        act = load(os.path.join(plain, f"{model}_activation_stats.json"))
        kinds = check_file(errors, f"{name} activation_stats", act, schema["activation_stats"])
        top = load(os.path.join(plain, f"{model}_top5_stats.json"))
        top_kinds = check_file(errors, f"{name} top5_stats", top, schema["top5_stats"])
        # The kinds every family has; MLP gate or router by family.
        common = {"embedding_output", "layer_N_attn_output", "layer_N_hidden",
                  "layer_N_mlp_output", "final_layernorm"}
        for k in common - kinds:
            errors.append(f"{name} activation_stats: no {k} entry")
        if not kinds & {"layer_N_mlp_gate", "layer_N_moe_gate"}:
            errors.append(f"{name} activation_stats: neither an MLP gate nor a router entry")
        if top_kinds != common:
            errors.append(f"{name} top5_stats: entries {sorted(top_kinds)}")
        for e in top["per_layer_stats"].values():
            if e["top_k"] != 100 or len(e["topk_abs"]) != 100 or len(e["top5_abs"]) != 5:
                errors.append(f"{name} top5_stats: top_k {e['top_k']}, lists "
                              f"{len(e['topk_abs'])} / {len(e['top5_abs'])}")
                break
        # The study keeps the 100 largest of every entry's first five.
        want = min(100, 5 * len(top["per_layer_stats"]))
        if len(top["global_top5_abs"]) != want:
            errors.append(f"{name} top5_stats: global list of {len(top['global_top5_abs'])}, "
                          f"not {want}")
        quant = os.path.join(d, "quant")
        scan(maxact, fixture, ids, quant, ["--quant", "--calib", "3", "--eval", "5",
                                           "--role", "schema_test"])
        q = load(os.path.join(quant, f"{model}_quant_sanity.json"))
        qs = schema["quant_sanity"]
        if shape(q) != qs["header"]:
            errors.append(f"{name} quant_sanity: header {shape(q)} != {qs['header']}")
        for row in q.get("metrics", []):
            if shape(row) != qs["metrics_row"]:
                errors.append(f"{name} quant_sanity: metrics row {shape(row)}")
                break
        if list(q.get("thresholds", {})) != qs["threshold_policies"]:
            errors.append(f"{name} quant_sanity: threshold policies {list(q['thresholds'])}")
        print(f"{name}: {len(act['per_layer_stats'])} entries, kinds {sorted(kinds)}")
    for e in errors:
        print("FAIL:", e)
    print(f"{len(fixtures)} fixtures, {len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
