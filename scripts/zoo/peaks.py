#!/usr/bin/env python3
"""Markdown tables of the peaks in `maxact scan` reports (docs/ZOO.md is made of them).

  scripts/zoo/peaks.py REPORT.json [REPORT.json ...]

Per report: the global maximum M (the study's components) with where it sits; the peak tap's
median |x| (midpoint of the exact quantile bracket) and M over it; how many of the peak tap's
top-100 values share the peak's channel; values meeting the massive-activation criterion
(|x| > 100 and > 1000 x the layer median) over all taps, and the two taps with most; then every
layer's residual-stream peak.
"""
import json
import os
import sys


def main():
    reports = [(p, json.load(open(p))) for p in sys.argv[1:]]
    print("| model | M | where | token | channel | median \\|x\\| there | M / median | "
          "top-100 in that channel | massive values |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    layers = {}
    for path, j in reports:
        g = j["global_max"]
        taps = {t["name"]: t for t in j["taps"]}
        s = taps[g["tap"]]["stats"]
        lo, hi = s["abs_quantiles"]["0.5"]
        med = (lo + hi) / 2
        same = sum(1 for x in s["top"] if x["channel"] == g["location"]["channel"])
        counts = sorted(((t["stats"]["massive"]["values"], t["name"]) for t in j["taps"]
                         if t["stats"]["massive"]["values"]), reverse=True)
        massive = f"{sum(c for c, _ in counts)}" + (
            f" ({', '.join(f'{n}: {c}' for c, n in counts[:2])})" if counts else "")
        name = os.path.splitext(os.path.basename(path))[0]
        loc = g["location"]
        print(f"| {name} | {g['value']:.4g} | {g['tap']} ({g['component']}) | "
              f"`{loc['token_text']}` | {loc['channel']} | {med:.3g} | {abs(g['value']) / med:.3g} | "
              f"{same} / {len(s['top'])} | {massive} |")
        layers[name] = [t["stats"]["absmax"]["value"] for t in j["taps"] if t["component"] == "hidden"]
    n = max(len(v) for v in layers.values())
    print()
    print("| layer | " + " | ".join(layers) + " |")
    print("|---:|" + "---:|" * len(layers))
    for i in range(n):
        print(f"| {i} | " + " | ".join(f"{v[i]:.4g}" if i < len(v) else "" for v in layers.values()) + " |")


if __name__ == "__main__":
    main()
