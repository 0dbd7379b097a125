#!/usr/bin/env python3
"""`maxact compare --format study` against the study's own summary: summarize() of its
quant_sanity_check.py (clx1415926/Max_act_llm), restated below from its semantics, over

* the study's published `<model>_quant_sanity.json` files (tests/fixtures/study/), whose published
  summary rows must come out too;
* the quant_sanity files maxact writes (`scan --quant --format study --role ...`) from zoo models,
  and the scan reports of the same runs, which must give the same summary to the bit;

plus bad inputs: each a clear error naming the file and the field, exit 1, nothing written.

  test_study_summary.py MAXACT STUDY_FIXTURES ZOO_DIR WORK_DIR
"""
import json
import math
import os
import shutil
import subprocess
import sys

KEYS = ["model_name", "family", "role", "policy", "reference_global_max_abs", "mean_rel_rmse",
        "mean_rel_mae", "mean_clip_rate", "mean_sqnr_db", "layers"]
NUMBERS = ("rel_rmse", "rel_mae", "clip_rate", "sqnr_db")


def summarize(outputs):
    """The study's summarize(): per model and policy (first-appearance order), count-weighted
    means; mean_sqnr_db sums the finite rows only but divides by every row's count."""
    summary = []
    for out in outputs:
        by_policy = {}
        for row in out["metrics"]:
            by_policy.setdefault(row["policy"], []).append(row)
        for policy, rows in by_policy.items():
            weighted = sum(r["count"] for r in rows)
            if weighted == 0:
                continue
            summary.append({
                "model_name": out["model_name"],
                "family": out["family"],
                "role": out["role"],
                "policy": policy,
                "reference_global_max_abs": out["reference_global_max_abs"],
                "mean_rel_rmse": sum(r["rel_rmse"] * r["count"] for r in rows) / weighted,
                "mean_rel_mae": sum(r["rel_mae"] * r["count"] for r in rows) / weighted,
                "mean_clip_rate": sum(r["clip_rate"] * r["count"] for r in rows) / weighted,
                "mean_sqnr_db": sum(r["sqnr_db"] * r["count"] for r in rows
                                    if math.isfinite(r["sqnr_db"])) / weighted,
                "layers": len(rows),
            })
    return summary


def load_quant_sanity(path):
    """A quant_sanity file; maxact writes null where the study would write NaN / Infinity."""
    out = json.load(open(path))
    for row in out["metrics"]:
        for k in NUMBERS:
            if row[k] is None:
                row[k] = math.nan
    return out


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def same_value(a, b):
    if isinstance(b, float) and math.isnan(b):
        return a is None  # maxact writes a NaN mean as null
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def same_rows(got, want, what):
    check(len(got) == len(want), f"{what}: {len(got)} rows, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        check(list(g.keys()) == KEYS, f"{what}: row {i} keys {list(g.keys())}")
        for k in KEYS:
            check(same_value(g.get(k), w[k]), f"{what}: row {i} {k}: {g.get(k)!r} vs {w[k]!r}")


def run(args, expect_rc=0):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != expect_rc:
        failures.append(f"{' '.join(args)}: exit {p.returncode} (expected {expect_rc}): {p.stderr}")
        print("FAIL:", failures[-1])
    return p


def summary_of(maxact, files, out):
    run([maxact, "compare", "--format", "study", *files, "-o", out])
    text = open(out).read()
    check(text.startswith("[\n  {\n    \"model_name\": "), f"{out}: not indented as json.dump(indent=2)")
    return json.loads(text), text


def published(maxact, fixtures, work):
    files = [os.path.join(fixtures, f) for f in
             ("Qwen3-30B-A3B_quant_sanity.json", "gemma-3-4b-it_quant_sanity.json")]
    got, text = summary_of(maxact, files, os.path.join(work, "published.json"))
    same_rows(got, summarize([load_quant_sanity(f) for f in files]), "published vs summarize()")
    pub = json.load(open(os.path.join(fixtures, "quant_sanity_summary.published.json")))
    same_rows(got, pub, "published vs the study's own summary")
    # Without -o the summary goes to stdout, the same text.
    p = run([maxact, "compare", "--format", "study", *files])
    check(p.stdout == text, "stdout differs from the -o file")


def quirks(maxact, work):
    """Rows the published and zoo files lack: a null (non-finite) SQNR, left out of the sum but
    not of the count; a policy whose counts sum to 0, left out."""
    path = os.path.join(work, "quirks_quant_sanity.json")
    rows = [{"policy": "max_abs", "count": 2, "rel_rmse": 0.5, "rel_mae": 0.25, "clip_rate": 0.0,
             "sqnr_db": None},
            {"policy": "none", "count": 0, "rel_rmse": 1.0, "rel_mae": 1.0, "clip_rate": 1.0,
             "sqnr_db": 1.0},
            {"policy": "max_abs", "count": 3, "rel_rmse": 0.125, "rel_mae": 0.75,
             "clip_rate": 0.1, "sqnr_db": 12.5}]
    with open(path, "w") as f:
        json.dump({"model_name": "q", "family": None, "role": "x", "reference_global_max_abs": None,
                   "metrics": rows}, f)
    got, _ = summary_of(maxact, [path], os.path.join(work, "quirks.json"))
    same_rows(got, summarize([load_quant_sanity(path)]), "quirks vs summarize()")
    check(len(got) == 1 and got[0]["mean_sqnr_db"] == 12.5 * 3 / 5, f"quirks: {got}")


def maxact_written(maxact, zoo, work):
    base = ["--quant", "--calib", "4", "--eval", "6", "--max-seq-len", "64", "-q"]
    runs = [  # (model, extra options): default quant taps (Hugging Face-named linear inputs among
        # them, several layers per policy) under Hugging Face names; all hidden states under the
        # study's names.
        ("qwen3-moe-tiny", ["--role", "moe"]),
        ("llama-tiny", ["--quant-layers", "all", "--names", "study"]),
    ]
    study_files = []
    for model, extra in runs:
        folder = os.path.join(work, model)
        report = os.path.join(work, model + ".json")
        run([maxact, "scan", os.path.join(zoo, model), *base, *extra, "--format", "study",
             "-o", folder])
        run([maxact, "scan", os.path.join(zoo, model), *base, *extra, "-o", report])
        f = os.path.join(folder, model + "_quant_sanity.json")
        study_files.append(f)
        s = json.load(open(f))
        check(s["role"] == ("moe" if "--role" in extra else None), f"{f}: role {s['role']!r}")
        check(len(s["metrics"]) > 2, f"{f}: expected several layers, {len(s['metrics'])} rows")
        r = json.load(open(report))
        check(r["options"]["role"] == s["role"], f"{report}: options.role {r['options']['role']!r}")
        # The report gives the same rows as the study file of the same (deterministic) run.
        _, from_file = summary_of(maxact, [f], os.path.join(work, model + ".from_file.json"))
        _, from_report = summary_of(maxact, [report],
                                    os.path.join(work, model + ".from_report.json"))
        check(from_file == from_report, f"{model}: summary from the report differs from the study file's")
    got, _ = summary_of(maxact, study_files, os.path.join(work, "zoo.json"))
    same_rows(got, summarize([load_quant_sanity(f) for f in study_files]), "zoo vs summarize()")
    check(all(r["layers"] > 1 for r in got), "zoo: expected several layers per policy")
    return study_files


def errors(maxact, zoo, work, good):
    out = os.path.join(work, "never.json")

    def bad(name, content, *message):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        p = run([maxact, "compare", "--format", "study", good, path, "-o", out], expect_rc=1)
        for m in (path, *message):
            check(m in p.stderr, f"{name}: message lacks {m!r}: {p.stderr!r}")
        check(not os.path.exists(out), f"{name}: an output was written")
        check(p.stdout == "", f"{name}: stdout {p.stdout!r}")

    study = json.load(open(good))
    bad("not_json.json", "{\"model_name\": ", "")
    bad("array.json", [], "not a study quant_sanity.json or maxact scan report")
    bad("no_metrics.json", {k: v for k, v in study.items() if k != "metrics"}, "metrics: missing")
    bad("no_role.json", {k: v for k, v in study.items() if k != "role"}, "role: missing")
    row = dict(study["metrics"][1], count="many")
    bad("bad_count.json", dict(study, metrics=[study["metrics"][0], row]),
        "metrics[1].count: expected a non-negative integer, found \"many\"")
    row = dict(study["metrics"][0], sqnr_db="high")
    bad("bad_sqnr.json", dict(study, metrics=[row]), "metrics[0].sqnr_db: expected a number or null")
    bad("bad_name.json", dict(study, model_name=3), "model_name: expected a string, found 3")
    bad("other_schema.json", {"schema": "maxact.compare"}, "\"maxact.compare\"",
        "not a study quant_sanity.json or maxact scan report")
    plain = os.path.join(work, "plain.json")
    run([maxact, "scan", os.path.join(zoo, "llama-tiny"), "--samples", "2", "--max-seq-len", "32",
         "-q", "-o", plain])
    p = run([maxact, "compare", "--format", "study", plain, "-o", out], expect_rc=1)
    check(plain in p.stderr and "quant: missing" in p.stderr, f"plain report: {p.stderr!r}")
    report = json.load(open(os.path.join(work, "qwen3-moe-tiny.json")))
    del report["quant"]["taps"][0]["policies"]["int8_max_abs"]["all"]["exceedance_rate"]
    bad("report_missing.json", report,
        "quant.taps[0].policies.int8_max_abs.all.exceedance_rate: missing")
    p = run([maxact, "compare", "--format", "study", good, "--csv", out], expect_rc=1)
    check("--csv" in p.stderr and not os.path.exists(out), f"--csv: {p.stderr!r}")


def main():
    maxact, fixtures, zoo, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    published(maxact, fixtures, work)
    quirks(maxact, work)
    study_files = maxact_written(maxact, zoo, work)
    errors(maxact, zoo, work, study_files[0])
    print(f"{len(failures)} failures" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
