#!/usr/bin/env python3
"""The quantization check against an independent computation (issue: the reference computes the
same metrics for one tap of each of two fixtures; results agree to 1e-6 relative).

  compare_quant.py MAXACT FIXTURE_DIR WORK_DIR [--tap NAME] [--calib N] [--eval N]
                   [--clip-quantile Q] [--perturb]

The fixture is copied and one embedding value of token PLANT is set to 70000, so tokens with that
id meet the massive-activation criterion at the embedding tap (random weights never do) and
overflow FP16. maxact
runs `scan --quant` on the copy; the reference (hf_dense.py + tap_reference.py hooks) runs the
calibration and evaluation samples maxact reports, takes the tap's rows from its own forward
pass, and computes with torch / numpy, written from the definitions in docs/SCAN_JSON.md (not
from maxact's code): calibration max |x|, the exact quantile (rank ceil(q n) of the sorted |x|),
the INT8 MSE grid, per-channel maxima; on evaluation rows every policy (torch.round, fp32
division and products; FP8 by nearest-value search in the formats' decode tables; FP16 by numpy,
BF16 by torch casts), error sums in float64, clip / exceedance / overflow counts and the same
without outlier tokens.

The embedding tap is used because its activations are the same bits in both implementations
(weights looked up, Gemma's fp32 scaling), so any difference is the quantization check's own;
elsewhere fp32 forward differences of ~1e-7 move values across rounding boundaries.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_dense  # noqa: E402
import tap_reference  # noqa: E402

REL = 1e-6
PLANT_TOKEN, PLANT_CHANNEL, PLANT_VALUE = 7, 3, 70000.0
GRID_PER_OCTAVE, GRID = 4, 48


def plant_outlier(folder):
    """Sets embed_tokens.weight[PLANT_TOKEN, PLANT_CHANNEL] in place (F32 or BF16 storage)."""
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:
        raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
        name = next(k for k in header if k.endswith("embed_tokens.weight"))
        e = header[name]
        cols = e["shape"][1]
        size = {"F32": 4, "BF16": 2}[e["dtype"]]
        off = 8 + n + e["data_offsets"][0] + (PLANT_TOKEN * cols + PLANT_CHANNEL) * size
        f.seek(off)
        b = struct.pack("<f", PLANT_VALUE)
        f.write(b if size == 4 else b[2:])  # bf16: truncated (69632), still past FP16's range


def fp8_table(bits_e, bits_m, bias):
    """Non-negative finite values of an FP8 format in code order (= value order)."""
    vals = []
    for code in range(1 << (bits_e + bits_m)):
        e, m = code >> bits_m, code & ((1 << bits_m) - 1)
        if e == 0:
            v = m / (1 << bits_m) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << bits_m)) * 2.0 ** (e - bias)
        vals.append(v)
    return vals


E4M3 = np.array(fp8_table(4, 3, 7)[:0x7F], dtype=np.float64)   # 0x7F is NaN; top 448
E5M2 = np.array(fp8_table(5, 2, 15)[:0x7C], dtype=np.float64)  # 0x7C.. are inf / NaN; top 57344


def round_fp8(y, table):
    """Nearest table value, ties to the even code, saturating at the top (y: float32 array)."""
    a = np.abs(y.astype(np.float64))
    a = np.minimum(a, table[-1])
    i = np.clip(np.searchsorted(table, a), 1, len(table) - 1)
    lo, hi = table[i - 1], table[i]
    pick_hi = (a - lo > hi - a) | ((a - lo == hi - a) & (i % 2 == 0))
    r = np.where(pick_hi, hi, lo)
    r = np.where(a <= table[0], table[0], r)
    return (np.sign(y) * r).astype(np.float32)


def int8(x, s):
    """(x', clipped) for fp32 tensors x and scale s (a 0-d or broadcastable fp32 tensor)."""
    zero = s == 0
    safe = torch.where(zero, torch.ones_like(s), s)
    q = torch.round(x / safe)
    xq = torch.clamp(q, -127, 127) * safe
    clipped = torch.where(zero, x != 0, q.abs() > 127)
    return torch.where(zero, torch.zeros_like(x), xq), clipped


class Acc:
    def __init__(self):
        self.n = self.clip = self.exceed = self.over = 0
        self.sx2 = self.sax = self.se2 = self.sae = 0.0

    def add(self, x, xq, clip, exceed):
        self.clip += int(clip.sum())
        self.exceed += int(exceed.sum())
        fin = torch.isfinite(xq)  # overflowed values leave the count and every sum
        self.over += int((~fin).sum())
        x64 = x[fin].to(torch.float64)
        self.n += x64.numel()
        self.sx2 += float((x64 * x64).sum())
        self.sax += float(x64.abs().sum())
        e = (x[fin] - xq[fin]).to(torch.float64)  # the fp32 difference
        self.se2 += float((e * e).sum())
        self.sae += float(e.abs().sum())

    def metrics(self):
        n = self.n
        sq = 10 * math.log10(self.sx2 / self.se2) if self.se2 > 0 else None
        return {"count": n, "mae": self.sae / n, "rmse": math.sqrt(self.se2 / n),
                "rel_mae": self.sae / self.sax, "rel_rmse": math.sqrt(self.se2 / self.sx2),
                "sqnr_db": sq, "clipped": self.clip, "exceeded": self.exceed,
                "overflow": self.over}


def rows_of(model, rec, seqs, tap):
    rec.rows.clear()
    with torch.no_grad():
        for sample, ids in seqs:
            rec.current = (sample, ids)
            model.text(torch.tensor(ids, dtype=torch.long))
    return torch.from_numpy(np.concatenate([a for _, a, _ in rec.rows[tap]])).to(torch.float32)


def calibrate(x, q):
    a = x.abs()
    M = float(a.max())
    s = torch.sort(a.flatten()).values
    rank = max(1, math.ceil(q * s.numel()))
    best, best_k = None, 0
    sse_at = []
    for k in range(GRID):
        T = np.float32(M * 2.0 ** (-k / GRID_PER_OCTAVE))
        sc = torch.tensor(T, dtype=torch.float32) / 127
        xq, _ = int8(x, sc)
        e = (x - xq).to(torch.float64)
        sse = float((e * e).sum())
        sse_at.append(sse)
        if best is None or sse < best:
            best, best_k = sse, k
    return {"max_abs": M, "quantile": float(s[rank - 1]),
            "mse_threshold": float(np.float32(M * 2.0 ** (-best_k / GRID_PER_OCTAVE))),
            "mse": best / x.numel(), "channel_absmax": a.max(dim=0).values, "sse": sse_at}


def evaluate(x, cal, perturb=False):
    a = x.abs()
    amax = a.max(dim=1, keepdim=True).values
    if perturb:  # a plausible bug: per-token scales from the signed maximum
        amax = x.max(dim=1, keepdim=True).values.clamp(min=1e-30)
    n = x.shape[1]
    # The lower median (torch.median's), the ratio in fp32 with the median clamped to the
    # smallest normal float, as the study computes Sun et al.'s criterion.
    k = (n - 1) // 2
    med = torch.from_numpy(np.partition(a.numpy(), k, axis=1)[:, k:k + 1])
    tiny = torch.finfo(torch.float32).tiny
    outlier = ((amax > 100) & (amax / med.clamp_min(tiny) > 1000)).flatten()
    M = torch.tensor(cal["max_abs"], dtype=torch.float32)
    f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    ch = cal["channel_absmax"].reshape(1, -1)
    out = {}

    def run(name, xq, clip, exceed, threshold):
        all_, clean = Acc(), Acc()
        all_.add(x, xq, clip, exceed)
        keep = ~outlier
        clean.add(x[keep], xq[keep], clip[keep], exceed[keep])
        out[name] = {"threshold": threshold, "all": all_.metrics(), "clean": clean.metrics()}

    for name, T in (("int8_max_abs", cal["max_abs"]), ("int8_clip_q", cal["quantile"]),
                    ("int8_mse", cal["mse_threshold"])):
        xq, clip = int8(x, f32(T) / 127)
        run(name, xq, clip, a > T, T)
    xq, clip = int8(x, amax / 127)
    run("int8_per_token", xq, clip, a > amax, None)
    xq, clip = int8(x, ch / 127)
    run("int8_per_channel", xq, clip, torch.where(ch == 0, x != 0, a > ch), None)
    for name, s, table, top_half, incl in (
            ("fp8_e4m3_max_abs", M / 448, E4M3, 464.0, False),
            ("fp8_e4m3_per_token", amax / 448, E4M3, 464.0, False),
            ("fp8_e5m2_max_abs", M / 57344, E5M2, 61440.0, True)):
        y = x / s
        xq = torch.from_numpy(round_fp8(y.numpy(), table)) * s
        ya = y.abs()
        clip = ya >= top_half if incl else ya > top_half  # ties to even: 464 -> 448, 61440 -> 65536
        exceed = a > (amax if "token" in name else M)
        run(name, xq, clip, exceed, None if "token" in name else cal["max_abs"])
    no = torch.zeros_like(x, dtype=torch.bool)
    with np.errstate(over="ignore"):  # overflow to inf is the point
        f16 = x.numpy().astype(np.float16).astype(np.float32)
    run("fp16", torch.from_numpy(f16), no, no, None)
    run("bf16", x.to(torch.bfloat16).to(torch.float32), no, no, None)
    return out, int(outlier.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maxact")
    ap.add_argument("fixture")
    ap.add_argument("work")
    ap.add_argument("--tap", default=None, help="default: the embedding tap")
    ap.add_argument("--calib", type=int, default=12)
    ap.add_argument("--eval", type=int, default=20)
    ap.add_argument("--clip-quantile", type=float, default=0.99)
    ap.add_argument("--perturb", action="store_true",
                    help="take per-token scales from the signed maximum; expect the comparison to fail")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    torch.set_num_threads(1)
    model_dir = os.path.join(a.work, "model")
    shutil.copytree(a.fixture, model_dir)
    plant_outlier(model_dir)
    model = hf_dense.load(model_dir, torch.float32)
    tap = a.tap or model.prefix + ".embed_tokens"

    r = random.Random(5)
    vocab = model.config["vocab_size"]
    n = a.calib + a.eval
    ids_path = os.path.join(a.work, "ids.jsonl")
    samples = []
    with open(ids_path, "w") as f:
        for i in range(n):
            ids = [r.randrange(vocab) for _ in range(r.randint(5, 60))]
            if i % 3 == 0:
                ids[r.randrange(len(ids))] = PLANT_TOKEN
            samples.append(ids)
            f.write(json.dumps({"input_ids": ids, "category": "abc"[i % 3]}) + "\n")
    out = os.path.join(a.work, "scan.json")
    subprocess.run([a.maxact, "scan", model_dir, "--corpus", ids_path, "--ids-native", "-q",
                    "--max-seq-len", "0", "--threads", "2", "--window-tokens", "150",
                    "--quant", "--calib", str(a.calib), "--eval", str(a.eval),
                    "--clip-quantile", str(a.clip_quantile), "--quant-taps", tap, "-o", out],
                   check=True, stdout=subprocess.DEVNULL)
    q = json.load(open(out))["quant"]
    cal_idx = q["calibration"]["sample_indices"]
    ev_idx = q["calibration"]["evaluation_sample_indices"]
    errors = []
    if sorted(cal_idx + ev_idx) != list(range(n)) or set(cal_idx) & set(ev_idx):
        errors.append(f"split not a disjoint cover of {n} samples: {cal_idx} / {ev_idx}")
    [got] = [t for t in q["taps"] if t["hf_name"] == tap]

    rec = tap_reference.attach(model)
    xc = rows_of(model, rec, [(i, samples[i]) for i in cal_idx], tap)
    xe = rows_of(model, rec, [(i, samples[i]) for i in ev_idx], tap)
    cal = calibrate(xc, a.clip_quantile)
    want, outliers = evaluate(xe, cal, a.perturb)

    worst = 0.0

    def close(what, g, w):
        nonlocal worst
        if g is None or w is None:
            if g is not w:
                errors.append(f"{what}: {g!r} vs reference {w!r}")
            return
        d = abs(g - w) / max(abs(w), 1e-300)
        worst = max(worst, d)
        if d > REL:
            errors.append(f"{what}: {g!r} vs reference {w!r} (rel {d:.2e})")

    def equal(what, g, w):
        if g != w:
            errors.append(f"{what}: {g!r} vs reference {w!r}")

    gc = got["calibration"]
    equal("calibration count", gc["count"], xc.numel())
    equal("calibration max_abs", gc["max_abs"], cal["max_abs"])
    equal("calibration quantile", gc["quantile"], cal["quantile"])
    if gc["mse_threshold"] != cal["mse_threshold"]:
        errors.append(f"mse_threshold {gc['mse_threshold']} vs reference {cal['mse_threshold']} "
                      f"(grid SSE {cal['sse'][:8]}...)")
    close("calibration mse", gc["mse"], cal["mse"])
    equal("evaluation tokens", got["tokens"], xe.shape[0])
    equal("outlier tokens", got["outlier_tokens"], outliers)
    if outliers == 0:
        errors.append("no outlier token in the evaluation rows: the clean metrics are untested")
    for policy, w in want.items():
        g = got["policies"][policy]
        if w["threshold"] is None:
            equal(f"{policy} threshold", g["threshold"], None)
        else:
            equal(f"{policy} threshold", g["threshold"], w["threshold"])
        for part in ("all", "clean"):
            for k in ("count", "clipped", "exceeded", "overflow"):
                equal(f"{policy} {part} {k}", g[part][k], w[part][k])
            for k in ("mae", "rmse", "rel_mae", "rel_rmse", "sqnr_db"):
                close(f"{policy} {part} {k}", g[part][k], w[part][k])
    for e in errors:
        print("FAIL:", e)
    print(f"{os.path.basename(a.fixture.rstrip('/'))} {tap}: {len(want)} policies, "
          f"{xc.numel()} calibration and {xe.numel()} evaluation values, {outliers} outlier "
          f"tokens, largest relative difference {worst:.2e}, {len(errors)} failures")
    if a.perturb:
        print("perturbed reference:", "detected" if errors else "NOT detected")
        return 0 if errors else 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
