#!/usr/bin/env python3
"""Runs `maxact scan` and the independent PyTorch reference (hf_dense.py + tap_reference.py) on
the same checkpoint and token ids, and compares every tap and every statistic
(docs/ARCHITECTURE.md §5).

  compare_scan.py MAXACT FIXTURE_DIR WORK_DIR [--precision fp32|bf16] [--sequences N]
                  [--max-len N] [--seed S] [--threads N] [--window-tokens N]
                  [--text-corpus JSONL]

Tolerances (fp32): max/min, sums and per-channel values within 1e-4 relative (sums against
sum |x|, channel values against the tap's largest); argmax locations identical unless the reference
itself has a near-tie there (reported); top-K |x| within 1e-4; histogram quantile brackets contain
the exact quantile, the study-style estimate inside the bracket; threshold counts identical;
per token: the peak and max-ratio tokens at the reference's place (or a reference near-tie), their
max / median within REL, the ratio's mean and std. bf16: max and min equal or within one bf16 ulp on
>= 99 % of the taps of all bf16 runs together (the issue's rule), and, as a rule of its own, the
peak token's max and median |x| (Sun et al.) likewise; every exception listed: each
bf16 run writes WORK_DIR/bf16_taps.json, and

  compare_scan.py --aggregate DIR --expect-runs N

reads those of every run under DIR and applies the rule (a fixture has 26-116 taps, so one
exception alone would fail a per-run 99 %). MoE layers: tokens per expert identical (bf16: a
difference is a note, since a one-ulp router logit can flip a top-k choice) and each expert's
largest |x| at its down projection's input as max/min above. Exit status 0 when everything holds.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_exports  # noqa: E402
import hf_dense  # noqa: E402
import tap_reference  # noqa: E402

REL = 1e-4


def corpus(path, vocab, n, max_len, seed):
    r = random.Random(seed)
    lens = [1, 2, max_len] + [r.randint(3, max_len) for _ in range(max(0, n - 3))]
    seqs = [(i, [r.randrange(vocab) for _ in range(L)]) for i, L in enumerate(lens[:n])]
    with open(path, "w") as f:
        for _, ids in seqs:
            f.write(json.dumps({"input_ids": ids, "category": "random"}) + "\n")
    return seqs


def maxact_tokenize(maxact, model, text, scratch):
    """The ids maxact's tokenizer gives `text` with the model's template (BOS as it adds it);
    `scratch` is a file path the text goes through."""
    with open(scratch, "w", encoding="utf-8") as f:
        f.write(text)
    r = subprocess.run([maxact, "tokenize", model, "--file", scratch, "--special", "--json"],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["ids"]


def text_corpus(maxact, model, corpus_path, out, n, max_len):
    """n samples spread evenly over a text JSONL file (every domain of the built-in corpus),
    tokenized by maxact with the model's own tokenizer (special tokens as its template adds them,
    checked against Hugging Face's tokenizers elsewhere) and truncated to max_len."""
    with open(corpus_path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    seqs = [(i, maxact_tokenize(maxact, model, texts[(2 * i + 1) * len(texts) // (2 * n)],
                                out + ".txt")[:max_len]) for i in range(n)]
    with open(out, "w") as f:
        for _, ids in seqs:
            f.write(json.dumps({"input_ids": ids, "category": "text"}) + "\n")
    return seqs


def bf16_ulp(x):
    x = abs(x)
    if x == 0 or not math.isfinite(x):
        return 0.0
    return 2.0 ** (math.floor(math.log2(x)) - 7)


class Checker:
    def __init__(self):
        self.errors = []
        self.notes = []

    def close(self, tap, what, got, want, scale):
        if not (abs(got - want) <= REL * max(scale, 1e-30)):
            self.errors.append(f"{tap}: {what} {got!r} vs reference {want!r} (scale {scale:.3g})")
            return False
        return True

    def within(self, tap, what, got, bracket):
        """A count of values beyond a threshold against the reference's [strict, loose] counts."""
        lo, hi = bracket
        if not lo <= got <= hi:
            self.errors.append(f"{tap}: {what} {got!r} outside the reference's [{lo}, {hi}]")

    def equal(self, tap, what, got, want):
        if got != want:
            self.errors.append(f"{tap}: {what} {got!r} vs reference {want!r}")


def located(stats, key):
    e = stats[key]
    return (e["sample"], e["position"], e["channel"]), e["value"]


def compare_fp32(tap, m, r, ck, ref_lookup):
    ck.equal(tap, "count", m["count"], r["count"])
    ck.equal(tap, "tokens", m["tokens"], r["tokens"])
    absmax = max(abs(r["max"]["value"]), abs(r["min"]["value"]))
    for key in ("max", "min"):
        mloc, mval = located(m, key)
        rloc, rval = located(r, key)
        ck.close(tap, key, mval, rval, max(abs(rval), absmax * 1e-3))
        if mloc != rloc:
            # A tie in the reference: its own value at maxact's location is (nearly) the extreme.
            other = ref_lookup(tap, mloc)
            if other is not None and abs(other - rval) <= REL * max(abs(rval), 1e-30):
                ck.notes.append(f"{tap}: {key} location {mloc} vs {rloc}: near-tie "
                                f"({other!r} vs {rval!r})")
            else:
                ck.errors.append(f"{tap}: {key} at {mloc}, reference at {rloc}")
        for f in ("token",):
            if mloc == rloc:
                ck.equal(tap, key + "." + f, m[key][f], r[key][f])
    ck.close(tap, "sum", m["sum"], r["sum"], r["sum_abs"])
    ck.close(tap, "sum_sq", m["sum_sq"], r["sum_sq"], r["sum_sq"])
    ck.close(tap, "sum_abs", m["sum_abs"], r["sum_abs"], r["sum_abs"])
    for c, (a, b) in enumerate(zip(m["channel_absmax"], r["channel_absmax"])):
        if not ck.close(tap, f"channel_absmax[{c}]", a, b, absmax):
            break
    big = max(r["channel_sum_sq"]) if r["channel_sum_sq"] else 0
    for c, (a, b) in enumerate(zip(m["channel_sum_sq"], r["channel_sum_sq"])):
        if not ck.close(tap, f"channel_sum_sq[{c}]", a, b, big):
            break
    ck.equal(tap, "top length", len(m["top"]), len(r["top"]))
    for i, (a, b) in enumerate(zip(m["top"], r["top"])):
        if not ck.close(tap, f"top[{i}]", abs(a["value"]), abs(b["value"]), absmax):
            break
    for q, key in (("0.5", "q50"), ("0.99", "q99")):
        lo, hi = m["abs_quantiles"][q]
        if not (lo * (1 - REL) <= r[key + "_hi"] and r[key + "_lo"] <= hi * (1 + REL)):
            ck.errors.append(f"{tap}: quantile {q} bracket [{lo}, {hi}] misses the exact "
                             f"[{r[key + '_lo']}, {r[key + '_hi']}]")
    for q, want in r["nearest_rank_quantiles"].items():
        lo, hi = m["abs_quantiles"][q]
        est = m["abs_quantile_estimates"][q]
        if want is None:
            continue
        if not (lo * (1 - REL) <= want <= hi * (1 + REL) and lo <= est <= hi):
            ck.errors.append(f"{tap}: quantile {q}: estimate {est} or exact {want} outside the "
                             f"bracket [{lo}, {hi}]")
    compare_per_token(tap, m["per_token"], r["per_token"], ck)
    ck.within(tap, "massive values", m["massive"]["values"], r["massive_values"])
    ck.within(tap, "massive tokens", m["massive"]["tokens"], r["massive_tokens"])
    ck.within(tap, "over_fp16", m["over_fp16"], r["over_fp16"])
    ck.within(tap, "over_fp8_e4m3", m["over_fp8_e4m3"], r["over_fp8"])
    ck.equal(tap, "nan", m["nan"]["count"], r["nan"])
    ck.equal(tap, "inf", m["inf"]["count"], r["inf"])


def compare_per_token(tap, m, r, ck):
    """Sun et al.'s per-token statistics: the peak token and the token of the largest max/median
    ratio at the reference's location (unless the reference itself has a near-tie there); their
    max within REL, the median within REL of the token's max (values are compared against their
    row's scale: a median near zero carries the row's absolute error), the ratio r within what
    that gives it, REL * r * (1 + r); the ratio's mean and std within the error the reference
    propagates from the same premise (tap_reference.py), twice over (both sides err)."""
    ck.equal(tap, "per_token.tokens", m["tokens"], r["tokens"])
    for key in ("peak", "max_ratio"):
        g, w = m[key], r[key]
        if (g is None) != (w is None):
            ck.errors.append(f"{tap}: per_token.{key} {g} vs reference {w}")
            continue
        if g is None:
            continue
        # How far the key can move: the max by REL, the ratio by REL * r * (1 + r).
        key_rel = REL if key == "peak" else REL * (1 + w["ratio"])
        if (g["sample"], g["position"]) != (w["sample"], w["position"]):
            what = (f"{tap}: per_token.{key} at {(g['sample'], g['position'])}, reference at "
                    f"{(w['sample'], w['position'])}")
            if w["margin"] <= 4 * key_rel:
                ck.notes.append(what + f" (near-tie, margin {w['margin']:.2g})")
            else:
                ck.errors.append(what)
            continue
        ck.equal(tap, f"per_token.{key}.token", g["token"], w["token"])
        ck.close(tap, f"per_token.{key}.abs", g["abs"], w["abs"], w["abs"])
        ck.close(tap, f"per_token.{key}.median", g["median"], w["median"], w["abs"])
        if math.isfinite(w["ratio"]):
            ck.close(tap, f"per_token.{key}.ratio", g["ratio"], w["ratio"],
                     w["ratio"] * (1 + w["ratio"]))
    for f in ("ratio_mean", "ratio_std"):
        if r[f] is None or m[f] is None:
            ck.equal(tap, f"per_token.{f}", m[f], r[f])
        else:
            ck.close(tap, f"per_token.{f}", m[f], r[f], 2 * r[f + "_tolerance"] / REL)


def compare_experts(report, ref, model, precision, ck, ref_lookup):
    """Tokens per expert (identical) and each expert's largest |x| at the down projection's
    input: fp32 within REL and at the same place (or a reference near-tie there), bf16 within
    one bf16 ulp (else a note, like the taps' bf16 rule)."""
    modules = sorted({m for m, _ in ref})
    for entry in report["experts"]:
        layer = entry["layer"]
        mod = [m for m in modules if m.split(".layers.")[1].split(".")[0] == str(layer)]
        if len(mod) != 1:
            ck.errors.append(f"layer {layer}: no reference MoE module")
            continue
        M = mod[0]
        for e, (load, mx) in enumerate(zip(entry["tokens_per_expert"],
                                           entry["down_proj_in_absmax"])):
            r = ref.get((M, e), {"load": 0, "max": None})
            what = f"{M} expert {e}"
            if load != r["load"]:
                (ck.errors if precision == "fp32" else ck.notes).append(
                    f"{what}: {load} tokens vs reference {r['load']}")
                continue
            if (mx is None) != (r["max"] is None):
                ck.errors.append(f"{what}: maximum {mx} vs reference {r['max']}")
                continue
            if mx is None:
                continue
            g, w = mx["value"], r["max"]["value"]
            if precision == "fp32":
                ck.close(what, "down_proj:in max", abs(g), abs(w), abs(w))
                mloc = (mx["sample"], mx["position"], mx["channel"])
                rloc = (r["max"]["sample"], r["max"]["position"], r["max"]["channel"])
                if mloc != rloc:
                    other = ref_lookup(M + ".experts:down_proj:in", mloc)
                    if other is not None and abs(abs(other) - abs(w)) <= REL * abs(w):
                        ck.notes.append(f"{what}: max at {mloc} vs {rloc}: near-tie")
                    else:
                        ck.errors.append(f"{what}: max at {mloc}, reference at {rloc}")
            elif abs(g - w) > bf16_ulp(max(abs(g), abs(w))):
                ck.notes.append(f"{what}: down_proj:in max {g!r} vs reference {w!r} (> 1 ulp)")
    for (M, e), r in ref.items():
        layer = int(M.split(".layers.")[1].split(".")[0])
        if not any(x["layer"] == layer for x in report["experts"]) and r["load"]:
            ck.errors.append(f"{M} expert {e}: routed tokens in the reference only")


def aggregate(root, expect_runs):
    """The bf16 rule over every run under root: >= 99 % of all taps within one bf16 ulp."""
    runs = []
    for d, _, files in os.walk(root):
        if "bf16_taps.json" in files:
            runs.append(json.load(open(os.path.join(d, "bf16_taps.json"))))
    taps = sum(r["taps"] for r in runs)
    for r in runs:
        for line in r["details"]:
            print(f"exception ({os.path.basename(r['fixture'].rstrip('/'))}): {line}")
    status = 0
    if len(runs) != expect_runs:
        print(f"FAIL: expected {expect_runs} bf16 runs, found {len(runs)}")
        status = 1
    # Each rule on its own: the taps' max / min, and the peak token's max / median |x|.
    for key, what in (("beyond_one_ulp", "max / min"),
                      ("per_token_beyond_one_ulp", "peak token max / median")):
        bad = [(r["fixture"], t) for r in runs for t in r[key]]
        frac = 1 - len(bad) / max(taps, 1)
        print(f"bf16 {what}: {len(runs)} runs, {taps} taps, {len(bad)} beyond one ulp, "
              f"{frac:.2%} within")
        if frac < 0.99:
            print(f"FAIL: fewer than 99 % of taps' {what} within one bf16 ulp")
            status = 1
    return status


def compare_fp8_exports(maxact, report, fixture, work, model, ref, linear, modules, ck):
    """FP8 checkpoints in both formats and the KV-only form (check_exports.check_fp8), opened by
    maxact again; refused with a clear error where the source cannot be cast (already quantized,
    fused experts) or the format has no names for it (ModelOpt KV scales of a fused qkv)."""
    import shutil
    raw = json.load(open(os.path.join(fixture, "config.json")))
    mt = model.config["model_type"].removesuffix("_text")
    refusal = ("quantized already" if "quantization_config" in raw else
               "stored fused" if mt in ("gpt_oss", "qwen3_5_moe") else None)
    for fmt, kv_only in (("compressed-tensors", False), ("modelopt", False),
                         ("compressed-tensors", True)):
        out = os.path.join(work, f"fp8_{fmt}{'_kv' if kv_only else ''}")
        shutil.rmtree(out, ignore_errors=True)
        cmd = [maxact, "export", "fp8", report, "--model", fixture, "-o", out, "--format", fmt, "-q"]
        r = subprocess.run(cmd + (["--kv-only"] if kv_only else []), capture_output=True, text=True)
        why = refusal if not (kv_only and refusal == "stored fused") else None
        if why is None and fmt == "modelopt" and mt in ("phi3", "bailing_moe", "bailing_moe_v2"):
            why = "ModelOpt names KV scales after k_proj"
        if why is None and kv_only and "quantization_config" in raw:
            why = "quantized already"
        if why is not None:
            if r.returncode != 1 or why not in r.stderr or os.path.exists(out):
                ck.errors.append(f"fp8 {fmt}: expected a refusal ({why}), got exit {r.returncode}: "
                                 f"{r.stderr.strip()[:200]}")
            continue
        if r.returncode != 0:
            ck.errors.append(f"fp8 {fmt}{' kv-only' if kv_only else ''} failed: {r.stderr[:300]}")
            continue
        text_params = {hf_dense.canonical(f"{model.prefix}.{k}") for k in model.text.state_dict()}
        text_params.add("lm_head.weight")
        check_exports.check_fp8(out, fixture, fmt, kv_only, modules, linear, ref, text_params, ck)
        s = subprocess.run([maxact, "scan", out, "--corpus", os.path.join(work, "ids.jsonl"),
                            "--ids-native", "-q", "--samples", "2"], capture_output=True, text=True)
        if s.returncode != 0:
            ck.errors.append(f"maxact cannot scan its own FP8 export ({fmt}): {s.stderr[:300]}")


def compare_export_files(maxact, report, imatrix, work, model, ref, ck, fixture):
    """scan --imatrix and `export imatrix` of its report give the same bytes; both imatrix
    formats and both act_scales formats against the reference (check_exports.py)."""
    exported, dat = os.path.join(work, "imatrix_export.gguf"), os.path.join(work, "imatrix.dat")
    pt, st = os.path.join(work, "act_scales.pt"), os.path.join(work, "act_scales.safetensors")
    for cmd in (["imatrix", report, "-o", exported], ["imatrix", report, "-o", dat, "--format", "dat"],
                ["act-scales", report, "-o", pt, "--min-max"],
                ["act-scales", report, "-o", st, "--min-max", "--format", "safetensors"]):
        subprocess.run([maxact, "export"] + cmd + ["-q"], check=True, stdout=subprocess.DEVNULL)
    if open(exported, "rb").read() != open(imatrix, "rb").read():
        ck.errors.append("export imatrix of the report differs from scan --imatrix")
    c = model.config
    n_experts = c.get("num_experts") or c.get("num_local_experts") or 0
    linear, experts = tap_reference.linear_inputs()
    check_exports.check(imatrix, dat, c, linear, experts, n_experts, ck)
    modules = {f"{model.prefix}.{n}": m.in_features for n, m in model.text.named_modules()
               if isinstance(m, torch.nn.Linear)}
    check_exports.check_act_scales(pt, st, linear, experts, n_experts, modules,
                                   ref[f"{model.prefix}.norm"], ck)
    compare_fp8_exports(maxact, report, fixture, work, model, ref, linear, modules, ck)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--aggregate":
        ap = argparse.ArgumentParser()
        ap.add_argument("--aggregate", required=True)
        ap.add_argument("--expect-runs", type=int, required=True)
        a = ap.parse_args()
        return aggregate(a.aggregate, a.expect_runs)
    ap = argparse.ArgumentParser()
    ap.add_argument("maxact")
    ap.add_argument("fixture")
    ap.add_argument("work")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--sequences", type=int, default=10)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window-tokens", type=int, default=150)
    ap.add_argument("--text-corpus", metavar="JSONL",
                    help="run on text from this corpus tokenized with the model's tokenizer "
                         "instead of random ids (trained models: real activations)")
    ap.add_argument("--perturb", metavar="PARAM",
                    help="scale this reference parameter by 1 + 1e-3 and expect the comparison "
                         "to fail (checks that the comparison can fail)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(1)
    dtype = torch.float32 if a.precision == "fp32" else torch.bfloat16
    model = hf_dense.load(a.fixture, dtype)
    if a.perturb:
        with torch.no_grad():
            dict(model.text.named_parameters())[a.perturb].mul_(1 + 1e-3)
    ids_path = os.path.join(a.work, "ids.jsonl")
    if a.text_corpus:
        seqs = text_corpus(a.maxact, a.fixture, a.text_corpus, ids_path, a.sequences, a.max_len)
    else:
        seqs = corpus(ids_path, model.config["vocab_size"], a.sequences, a.max_len, a.seed)
    out = os.path.join(a.work, "scan.json")
    cmd = [a.maxact, "scan", a.fixture, "--corpus", ids_path, "--ids-native", "-q",
           "--max-seq-len", "0", "--precision", a.precision, "--threads", str(a.threads),
           "--window-tokens", str(a.window_tokens), "-o", out]
    imatrix = os.path.join(a.work, "imatrix.gguf")
    if a.precision == "fp32":  # the importance matrix, checked against the reference's Σx²
        cmd += ["--imatrix", imatrix]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got = {t["name"]: t["stats"] for t in json.load(open(out))["taps"]}
    ref = tap_reference.run(model, seqs, dtype, REL)
    with open(os.path.join(a.work, "reference.json"), "w") as f:
        json.dump(ref, f)

    ck = Checker()
    kernel = json.load(open(out))["run"]["linear_kernel"]
    print(f"maxact linear kernel: {kernel}")
    forced = os.environ.get("MAXACT_LINEAR_KERNEL")
    if forced and kernel != forced:
        ck.errors.append(f"MAXACT_LINEAR_KERNEL={forced} but the report says {kernel}")
    missing = sorted(set(ref) - set(got))
    extra = sorted(set(got) - set(ref))
    if missing:
        ck.errors.append(f"taps only in the reference: {missing}")
    if extra:
        ck.errors.append(f"taps only in maxact: {extra}")
    def ref_lookup(tap, loc):
        return tap_reference.value_at(tap, loc)

    bf_bad, pt_bad = [], []
    for tap in sorted(set(ref) & set(got)):
        if a.precision == "fp32":
            compare_fp32(tap, got[tap], ref[tap], ck, ref_lookup)
        else:
            for key in ("max", "min"):
                g, w = got[tap][key]["value"], ref[tap][key]["value"]
                d = abs(g - w) / max(bf16_ulp(max(abs(g), abs(w))), 1e-45)
                if d > 1:
                    bf_bad.append((tap, f"{tap}: {key} {g!r} vs reference {w!r} ({d:.0f} ulps)"))
            # The peak token's max and median |x| (Sun et al.), under the same one-ulp rule.
            g, w = got[tap]["per_token"]["peak"], ref[tap]["per_token"]["peak"]
            for key in ("abs", "median"):
                if g is None or w is None:
                    break
                d = abs(g[key] - w[key]) / max(bf16_ulp(max(abs(g[key]), abs(w[key]))), 1e-45)
                if d > 1:
                    pt_bad.append((tap, f"{tap}: peak token {key} {g[key]!r} vs reference "
                                        f"{w[key]!r} ({d:.0f} ulps)"))
            ck.equal(tap, "count", got[tap]["count"], ref[tap]["count"])
            ck.equal(tap, "per_token.tokens", got[tap]["per_token"]["tokens"],
                     ref[tap]["per_token"]["tokens"])
    compare_experts(json.load(open(out)), tap_reference.expert_summary(), model, a.precision, ck,
                    ref_lookup)
    if a.precision == "fp32":
        compare_export_files(a.maxact, out, imatrix, a.work, model, ref, ck, a.fixture)
    n = len(set(ref) & set(got))
    if a.precision == "bf16":
        for _, b in bf_bad + pt_bad:
            ck.notes.append("beyond one bf16 ulp: " + b)
        with open(os.path.join(a.work, "bf16_taps.json"), "w") as f:
            json.dump({"fixture": a.fixture, "taps": n,
                       "beyond_one_ulp": sorted({t for t, _ in bf_bad}),
                       "per_token_beyond_one_ulp": sorted({t for t, _ in pt_bad}),
                       "details": [b for _, b in bf_bad + pt_bad]}, f, indent=1)
    for note in ck.notes:
        print("note:", note)
    for e in ck.errors[:50]:
        print("FAIL:", e)
    print(f"{os.path.basename(a.fixture.rstrip('/'))} {a.precision}: {n} taps, "
          f"{sum(len(s) for _, s in seqs)} tokens, {len(ck.errors)} failures, {len(ck.notes)} notes")
    if a.perturb:
        print("perturbed reference:", "detected" if ck.errors else "NOT detected")
        return 0 if ck.errors else 1
    return 1 if ck.errors else 0


if __name__ == "__main__":
    sys.exit(main())
