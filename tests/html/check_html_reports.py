#!/usr/bin/env python3
"""maxact's HTML reports, comparison page and model card, checked in a real browser and against
the JSON they came from.

  check_html_reports.py MAXACT REPO_ROOT WORK_DIR [--docs DIR] [--reports A.json B.json C.json]

Builds reports of the three zoo models (a dense scan, an MoE scan, a quantization check) and
their comparison page, then:
  * without a browser: every chart datum that names its source in the JSON equals that value;
    the per-layer curves, the channel heatmap, the top-value table and the correlations are
    recomputed here from the JSON (numpy) and must match; the model card's numbers too;
  * in Debian's chromium (headless, driven by npm playwright-core fetched into the test cache):
    no console error or warning, no page error, no network request, every chart rendered with
    marks, and every number shown equal to the JSON it names (data-source); a screenshot of
    each page is saved in WORK_DIR.
No chromium: exits 77 (ctest: skipped) with a message. --docs copies the screenshots there;
--reports uses existing full-corpus reports instead of scanning (how docs/ images are made).
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tokenizer"))
from setup_reference import npm_modules  # noqa: E402

PLAYWRIGHT = "1.57.0"
STUDY = {"embedding", "hidden", "attention", "mlp", "final_norm"}
errors = []


def fail(msg):
    errors.append(msg)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def resolve(doc, path):
    """The value at a path such as taps[3].stats.abs_quantile_estimates["0.5"]."""
    v, pos = doc, 0
    while pos < len(path):
        m = PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise KeyError(f"bad path {path!r} at {pos}")
        key = m.group(1) if m.group(1) is not None else (
            int(m.group(2)) if m.group(2) is not None else json.loads(m.group(3)))
        v = v[key]
        pos = m.end()
    return v


def source_value(page_doc, docs, source):
    if "#" in source:
        f, p = source.split("#", 1)
        return resolve(docs[f], p)
    return resolve(page_doc, source)


def chart_specs(html_path):
    text = open(html_path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="maxact-charts">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def datasets(spec):
    out = []
    if isinstance(spec.get("data"), dict) and "values" in spec["data"]:
        out.append(spec["data"]["values"])
    for sub in spec.get("layer", []):
        out += datasets(sub)
    return out


def check_specs(name, html_path, page_doc, docs):
    """Every datum with a source equals the JSON there; the heatmap's cells are the maxima of
    their channel groups."""
    specs = chart_specs(html_path)
    checked = 0
    for cid, spec in specs.items():
        for rows in datasets(spec):
            for row in rows:
                if "source" in row:
                    want = source_value(page_doc, docs, row["source"])
                    got = next((row[k] for k in ("value", "sqnr_db", "tokens", "component")
                                if k in row), None)
                    if row["source"].endswith(".sqnr_db") and "sqnr_db" in row:
                        got = row["sqnr_db"]
                    if got != want:
                        fail(f"{name} {cid}: {row['source']} is {want!r}, chart shows {got!r}")
                    if "abs" in row and "value" in row and row["abs"] != abs(row["value"]):
                        fail(f"{name} {cid}: abs {row['abs']} of value {row['value']}")
                    if "abs" in row and "sqnr_db" in row:
                        f = row["source"].split("#")[0]
                        if row["abs"] != docs[f]["global_max"]["abs"]:
                            fail(f"{name} {cid}: |M| {row['abs']} != {f}'s global_max.abs")
                    checked += 1
                elif cid == "chart-channels":
                    tap = page_doc["taps"][row["t"]]
                    ca = [x for x in tap["stats"]["channel_absmax"][row["c"]:row["c2"]]
                          if x is not None]
                    if tap["layer"] != row["l"] or max(ca) != row["v"]:
                        fail(f"{name} heatmap cell {row} != max of taps[{row['t']}] channels")
                    checked += 1
    if "chart-channels" in specs:
        check_heatmap_complete(name, specs["chart-channels"], page_doc)
    if checked == 0:
        fail(f"{name}: no chart datum names its source")
    return specs, checked


def check_heatmap_complete(name, spec, doc):
    """Every residual-stream layer and channel group with a positive value has its cell."""
    cells = {(r["l"], r["c"], r["c2"]) for r in spec["data"]["values"]}
    hidden = [t for t in doc["taps"] if t["component"] == "hidden" and t["layer"] is not None]
    layers, channels = len(hidden), hidden[0]["channels"]
    bins = min(256, max(64, 12800 // layers))
    width = 1 if channels <= bins else -(-channels // bins)
    want = set()
    for t in hidden:
        ca = t["stats"]["channel_absmax"]
        for c0 in range(0, channels, width):
            vals = [x for x in ca[c0:c0 + width] if x is not None]
            if vals and max(vals) > 0:
                want.add((t["layer"], c0, min(channels, c0 + width)))
    if cells != want:
        fail(f"{name}: heatmap has {len(cells)} cells, the JSON gives {len(want)} "
             f"(first difference {sorted(cells ^ want)[:3]})")


def expected_layer_rows(doc):
    """Per (layer, series) the |x| the layer chart must draw, computed from the taps."""
    want = {}
    for t in doc["taps"]:
        if t["layer"] is None:
            continue
        a = t["stats"]["absmax"]
        series = {"hidden": "residual stream (hidden)", "attention": "attention output",
                  "mlp": "MLP output", "linear_input": "largest Linear input"}.get(t["component"])
        if series and a is not None and abs(a["value"]) > 0:
            key = (t["layer"], series)
            want[key] = max(want.get(key, 0.0), abs(a["value"]))
        if t["component"] == "hidden":
            for q, s in (("0.5", "residual median |x|"), ("0.999", "residual 99.9 % quantile")):
                e = t["stats"]["abs_quantile_estimates"][q]
                if e is not None and e > 0:
                    want[(t["layer"], s)] = e
    return want


def check_layers(name, specs, doc):
    spec = specs["chart-layers"]
    got = {(r["layer"], r["series"]): r["abs"] for r in spec["layer"][0]["data"]["values"]}
    want = expected_layer_rows(doc)
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:6]
        fail(f"{name}: layer curves differ from the taps' maxima: {diff}")


def expected_top(doc, study_only, k):
    """The JSON paths of the rows the top table must show: the k largest |x| over the taps' top
    lists in forward order (ties: earlier tap, earlier entry), the first of each token only."""
    rows = []
    for i, t in enumerate(doc["taps"]):
        if study_only and t["component"] not in STUDY:
            continue
        rows += [(e, f"taps[{i}].stats.top[{j}]") for j, e in enumerate(t["stats"]["top"])]
    rows.sort(key=lambda r: -abs(r[0]["value"]))  # stable
    out, seen = [], set()
    for e, path in rows:
        key = (e["sample"], e["position"])
        if key in seen:
            continue
        seen.add(key)
        out.append(path)
        if len(out) == k:
            break
    return out


def check_headroom(name, html_path, doc):
    """The headroom table's derived numbers, recomputed per kind of tap."""
    page = open(html_path, encoding="utf-8").read()
    table = re.search(r'<table id="headroom-table">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r'<tr><td>([a-z_]+)</td><td class="n">(\d+)</td><td class="n">(\d+)</td>'
                      r'<td class="n">([^<]*)</td><td class="n">([^<]*)</td><td class="n">(\d+)'
                      r'</td>.*?<td class="n">([^<]*)</td></tr>', table)
    kinds = {}
    for t in doc["taps"]:
        k = kinds.setdefault(t["component"], [0, 0, 0, 0, 0, 0.0])
        s = t["stats"]
        k[0] += 1
        k[1] += s["count"]
        k[2] += s["over_fp16"]
        k[3] += s["over_fp8_e4m3"]
        k[4] += s["over_fp8_e4m3"] > 0
        if s["absmax"] is not None:
            k[5] = max(k[5], abs(s["absmax"]["value"]))
    if [r[0] for r in rows] != list(kinds):
        fail(f"{name}: headroom rows {[r[0] for r in rows]} vs kinds {list(kinds)}")
        return
    for r, (kind, (taps, count, f16, f8, taps8, absmax)) in zip(rows, kinds.items()):
        def frac(n):
            return f"{100 * n / count:.3g} % ({n})" if count else "–"
        want = (kind, str(taps), str(count), frac(f16), frac(f8), str(taps8), f"{absmax / 448:.6g}")
        if tuple(r) != want:
            fail(f"{name}: headroom row {r} != {want}")


def pearson(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def mean_ranks(v):
    v = np.asarray(v, float)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def check_card(name, card, doc):
    g = doc["global_max"]
    if f"**{g['value']:.6g}**" not in card:
        fail(f"{name} card: M {g['value']:.6g} missing")
    count = sum(t["stats"]["count"] for t in doc["taps"])
    f16 = sum(t["stats"]["over_fp16"] for t in doc["taps"])
    taps8 = sum(t["stats"]["over_fp8_e4m3"] > 0 for t in doc["taps"])
    if f"**FP16**: {f16} of {count} recorded values" not in card:
        fail(f"{name} card: FP16 line does not say {f16} of {count}")
    if f"**FP8-E4M3**: {taps8} of {len(doc['taps'])} taps" not in card:
        fail(f"{name} card: FP8 line does not say {taps8} of {len(doc['taps'])} taps")
    absmax = max(abs(t["stats"]["absmax"]["value"]) for t in doc["taps"] if t["stats"]["absmax"])
    if f"{absmax / 448:.6g} (max |x| / 448)" not in card:
        fail(f"{name} card: FP8 scale {absmax / 448:.6g} missing")
    if "quant" in doc:
        for policy, p in doc["quant"]["pooled"].items():
            s = p["all"]["sqnr_db"]
            cell = f"{s:.1f} dB" if s is not None else "lossless"
            if f"| `{policy}` | {cell} |" not in card:
                fail(f"{name} card: {policy} row does not start with {cell}")
    if doc["run"].get("command") and doc["run"]["command"] not in card:
        fail(f"{name} card: the command is missing")


def check_browser(results, pages, docs):
    for name, (html, doc) in pages.items():
        r = results[html]
        for k in ("console_errors", "page_errors", "requests"):
            if r[k]:
                fail(f"{name}: {k}: {r[k][:5]}")
        if r.get("error") or r.get("rendered") is None:
            fail(f"{name}: charts did not render ({r.get('error')})")
            continue
        if int(r["rendered"]) != r["figures"] or len(r["charts"]) != r["figures"]:
            fail(f"{name}: {r['rendered']} charts rendered for {r['figures']} figures")
        for cid, c in r["charts"].items():
            if not c["svg"] or c["items"] == 0 or c["svg_marks"] == 0:
                fail(f"{name} {cid}: nothing drawn ({c})")
        sources = set()
        for s in r["spans"]:
            want = source_value(doc, docs, s["source"])
            sources.add(s["source"])
            got = float(s["value"])
            if got != want:
                fail(f"{name}: {s['source']} shown as data-value {s['value']}, JSON has {want}")
            shown = float(s["text"])
            if isinstance(want, int):
                ok = shown == want
            else:
                ok = abs(shown - want) <= 5e-6 * abs(want) + 1e-300
            if not ok:
                fail(f"{name}: {s['source']} shown as {s['text']!r}, JSON has {want}")
        if name != "compare":
            for need in ("global_max.value", "global_max.location.sample",
                         "global_max.location.position", "global_max.location.channel"):
                if need not in sources:
                    fail(f"{name}: {need} is not shown")
            if not any(s.startswith("categories[") for s in sources):
                fail(f"{name}: no category peak shown")
            for table, study_only, k in (("top-study", True, 30), ("top-all", False, 15)):
                top = [s["source"][:-len(".value")] for s in r["spans"]
                       if s["id"] == table and s["source"].endswith(".value")]
                if top != expected_top(doc, study_only, k):
                    fail(f"{name}: {table} does not list the {k} largest tokens")
        print(f"{name}: {len(r['charts'])} charts, "
              f"{sum(c['items'] for c in r['charts'].values())} marks, {len(r['spans'])} numbers "
              "checked in the browser")


def main():
    args = sys.argv[1:]
    maxact, root, work = args[:3]
    docs_dir = args[args.index("--docs") + 1] if "--docs" in args else None
    given = args[args.index("--reports") + 1:args.index("--reports") + 4] \
        if "--reports" in args else None
    chromium = shutil.which("chromium")
    os.makedirs(work, exist_ok=True)
    zoo = os.path.join(root, "zoo")
    kinds = ("dense", "moe", "quant")
    reports = {k: os.path.join(work, k + ".json") for k in kinds}
    if given:
        reports = dict(zip(kinds, given))
    else:
        small = ["--samples", "48", "--max-seq-len", "128", "-q", "--threads", "2"]
        run([maxact, "scan", os.path.join(zoo, "llama-tiny"), *small, "-o",
             os.path.join(work, "dense.json"), "--html", os.path.join(work, "dense_scan.html")])
        run([maxact, "scan", os.path.join(zoo, "qwen3-moe-tiny"), *small, "-o",
             os.path.join(work, "moe.json")])
        run([maxact, "scan", os.path.join(zoo, "gemma3-tiny"), "--quant", "--calib", "12",
             "--eval", "24", "--max-seq-len", "128", "-q", "--threads", "2", "-o",
             os.path.join(work, "quant.json")])
    docs = {}
    pages = {}
    for k in kinds:
        js = reports[k]
        docs[js] = json.load(open(js))
        html = os.path.join(work, k + ".html")
        for p in (html, os.path.join(work, k + ".md")):
            if os.path.exists(p):
                os.remove(p)
        run([maxact, "report", js, "-o", html, "--model-card", os.path.join(work, k + ".md")])
        pages[k] = (html, docs[js])
        check_card(k, open(os.path.join(work, k + ".md"), encoding="utf-8").read(), docs[js])
    if not given:
        pages["dense_scan"] = (os.path.join(work, "dense_scan.html"), docs[reports["dense"]])
    cmp = os.path.join(work, "compare.html")
    if os.path.exists(cmp):
        os.remove(cmp)
    run([maxact, "report", *[reports[k] for k in kinds], "-o", cmp])
    pages["compare"] = (cmp, None)

    # Without a browser: the charts' data against the JSON and against recomputation.
    n = 0
    for name, (html, doc) in pages.items():
        specs, checked = check_specs(name, html, doc, docs)
        n += checked
        if doc is not None:
            check_layers(name, specs, doc)
            check_headroom(name, html, doc)
    xs, ys = [], []
    for k in kinds:
        d = docs[reports[k]]
        s = d.get("quant", {}).get("pooled", {}).get("int8_max_abs", {}).get("all", {}).get("sqnr_db")
        if s is not None and d["global_max"]:
            xs.append(math.log10(d["global_max"]["abs"]))
            ys.append(s)
    page = open(cmp, encoding="utf-8").read()
    m = re.search(r"<tr><td>int8_max_abs</td><td class=\"n\">(\d+)</td><td class=\"n\">([^<]*)</td>"
                  r"<td class=\"n\">([^<]*)</td>", page)
    if xs:
        if not m or int(m.group(1)) != len(xs):
            fail(f"compare: int8_max_abs correlation row missing or not over {len(xs)} models")
        else:
            for got, want in ((m.group(2), pearson(xs, ys)),
                              (m.group(3), pearson(mean_ranks(xs), mean_ranks(ys)))):
                if (want is None and got != "–") or (want is not None and got != f"{want:.3f}"):
                    fail(f"compare: correlation shown {got}, numpy gives {want}")
    print(f"{n} chart data checked against the JSON")

    # A malformed report: a clear error naming the file, non-zero exit, nothing written.
    bad = os.path.join(work, "bad.json")
    d = json.load(open(reports["dense"]))
    d["taps"][1]["stats"]["absmax"]["value"] = "large"
    json.dump(d, open(bad, "w"))
    out = os.path.join(work, "bad.html")
    p = subprocess.run([maxact, "report", bad, "-o", out], capture_output=True, text=True)
    if p.returncode != 1 or "bad.json" not in p.stderr or "taps[1].stats.absmax.value" not in p.stderr \
            or os.path.exists(out):
        fail(f"malformed report: exit {p.returncode}, {p.stderr.strip()!r}, written "
             f"{os.path.exists(out)}")

    if chromium is None:
        for e in errors:
            print("FAIL", e)
        if errors:
            return 1
        print("SKIPPED the browser half: no chromium on PATH (scripts/deps.sh --test installs "
              "Debian's chromium); the checks without a browser passed")
        return 77

    # In the browser.
    modules = npm_modules("playwright-core", PLAYWRIGHT)
    result_json = os.path.join(work, "browser.json")
    run(["node", os.path.join(HERE, "browser_check.mjs"), modules, chromium, result_json,
         *[html for html, _ in pages.values()]], timeout=900)
    results = json.load(open(result_json))
    for name in pages:
        if pages[name][1] is None:
            pages[name] = (pages[name][0], {})
    check_browser(results, pages, docs)
    if docs_dir:
        names = {"dense": "llama-tiny", "moe": "qwen3-moe-tiny", "quant": "gemma3-tiny"}
        for name, (html, _) in pages.items():
            if name == "compare":
                shutil.copy(html[:-5] + ".png", os.path.join(docs_dir, "report_compare.png"))
            elif name in names:
                shutil.copy(html[:-5] + ".top.png",
                            os.path.join(docs_dir, f"report_{names[name]}.png"))
    for e in errors:
        print("FAIL", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
