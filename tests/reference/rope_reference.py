#!/usr/bin/env python3
"""RoPE inverse frequencies and attention scales computed with torch the way transformers'
modeling_rope_utils does (v5 semantics: YaRN keeps the given factor and honours `truncate`), for a
set of config.json files it writes. The C++ test compares maxact's rope_frequencies with them.

  rope_reference.py OUT_DIR      # writes OUT_DIR/<case>/config.json and OUT_DIR/expected.json
"""
import json
import math
import os
import sys

import torch


def base_freqs(base, dim):
    return base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)


def from_v5(c, table):
    """transformers v5 writes `rope_parameters` (rope_type, rope_theta, scaling keys, optionally
    partial_rotary_factor; Gemma3: one dict per layer type) instead of rope_theta + rope_scaling.
    Returns the equivalent v4-style config and the table left to choose (None once chosen)."""
    rp = c.get("rope_parameters")
    if rp is None:
        return c, table
    if "sliding_attention" in rp or "full_attention" in rp:
        rp = rp["sliding_attention" if table == 1 else "full_attention"]
        table = None
    c = dict(c)
    c["rope_theta"] = rp.get("rope_theta", c.get("rope_theta", 10000.0))
    if "partial_rotary_factor" in rp:
        c["partial_rotary_factor"] = rp["partial_rotary_factor"]
    c["rope_scaling"] = {k: v for k, v in rp.items() if k not in ("rope_theta", "partial_rotary_factor")}
    return c, table


def compute(c, seq_len, table):
    c, table = from_v5(c, table)
    hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    if table is not None:  # gemma3 v4 style: 0 global (rope_scaling), 1 local (rope_local_base_freq)
        if table == 1:
            return (1.0 / base_freqs(c["rope_local_base_freq"], hd)).tolist(), 1.0
    rs = c.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    base = c.get("rope_theta", 10000.0)
    dim = int(hd * c.get("partial_rotary_factor", 1.0))
    if kind in ("default", "mrope"):
        return (1.0 / base_freqs(base, dim)).tolist(), 1.0
    if kind == "linear":
        inv = 1.0 / base_freqs(base, dim)
        inv /= rs["factor"]
        return inv.tolist(), 1.0
    if kind == "dynamic":
        mpe = c["max_position_embeddings"]
        L = seq_len if seq_len > mpe else mpe
        b = base * ((rs["factor"] * L / mpe) - (rs["factor"] - 1)) ** (dim / (dim - 2))
        return (1.0 / base_freqs(b, dim)).tolist(), 1.0
    if kind == "llama3":
        inv = 1.0 / base_freqs(base, dim)
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        inv_l = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        return torch.where(medium, smoothed, inv_l).tolist(), 1.0
    if kind == "yarn":
        factor = rs["factor"]
        O = rs.get("original_max_position_embeddings") or c["max_position_embeddings"]

        def mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        att = rs.get("attention_factor")
        if att is None:
            if rs.get("mscale") and rs.get("mscale_all_dim"):
                att = mscale(factor, rs["mscale"]) / mscale(factor, rs["mscale_all_dim"])
            else:
                att = mscale(factor)
        bf, bs = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def cdim(rot):
            return (dim * math.log(O / (rot * 2 * math.pi))) / (2 * math.log(base))

        low, high = cdim(bf), cdim(bs)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        pos = base_freqs(base, dim)
        extra, inter = 1.0 / pos, 1.0 / (factor * pos)
        e = 1 - ramp
        return (inter * (1 - e) + extra * e).tolist(), att
    if kind in ("longrope", "su"):
        O = c["original_max_position_embeddings"]
        ext = torch.tensor(rs["long_factor"] if seq_len > O else rs["short_factor"], dtype=torch.float32)
        inv = 1.0 / (ext * base_freqs(base, dim))
        att = rs.get("attention_factor")
        if att is None:
            f = c["max_position_embeddings"] / O
            att = 1.0 if f <= 1 else math.sqrt(1 + math.log(f) / math.log(O))
        return inv.tolist(), att
    raise ValueError(kind)


def base_config(**kw):
    c = {"model_type": "llama", "vocab_size": 32, "hidden_size": 64, "intermediate_size": 64,
         "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
         "max_position_embeddings": 4096, "rope_theta": 10000.0}
    c.update(kw)
    return c


CASES = {
    "default": (base_config(), [8], None),
    "theta_1e6_hd128": (base_config(head_dim=128, rope_theta=1e6), [8], None),
    "linear": (base_config(rope_scaling={"rope_type": "linear", "factor": 8.0}), [8], None),
    "dynamic": (base_config(max_position_embeddings=2048, rope_scaling={"type": "dynamic", "factor": 2.0}), [100, 6000], None),
    "llama3": (base_config(head_dim=128, rope_theta=500000.0, max_position_embeddings=131072,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}), [8], None),
    "yarn_gpt_oss": (base_config(model_type="qwen3", head_dim=64, rope_theta=150000.0, max_position_embeddings=131072,
                                 rope_scaling={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                               "truncate": False, "original_max_position_embeddings": 4096}), [8], None),
    "yarn_truncated": (base_config(model_type="qwen3", head_dim=128, rope_theta=1e6, max_position_embeddings=131072,
                                   rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}), [8], None),
    "yarn_mscale": (base_config(model_type="qwen3", head_dim=64, rope_scaling={
        "rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707,
        "original_max_position_embeddings": 4096}), [8], None),
    "longrope": (base_config(model_type="phi3", head_dim=16, partial_rotary_factor=0.75, max_position_embeddings=131072,
                             original_max_position_embeddings=4096,
                             rope_scaling={"type": "longrope", "short_factor": [1.0, 1.1, 1.3, 1.7, 2.0, 2.5],
                                           "long_factor": [1.5, 3.0, 6.0, 12.0, 24.0, 48.0]}), [100, 5000], None),
    "gemma3_local": (base_config(model_type="gemma3_text", rope_theta=1e6, rope_local_base_freq=10000.0,
                                 rope_scaling={"rope_type": "linear", "factor": 8.0}), [8], 1),
    "gemma3_global": (base_config(model_type="gemma3_text", rope_theta=1e6, rope_local_base_freq=10000.0,
                                  rope_scaling={"rope_type": "linear", "factor": 8.0}), [8], 0),
    "partial_quarter": (base_config(model_type="qwen3", head_dim=64, partial_rotary_factor=0.25, rope_theta=1e7), [8], None),
}


def main():
    out = sys.argv[1]
    expected = []
    for name, (cfg, seq_lens, table) in CASES.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        for L in seq_lens:
            inv, att = compute(cfg, L, table)
            expected.append({"case": name, "config": os.path.join(d, "config.json"), "seq_len": L,
                             "table": table or 0, "inv_freq": inv, "attention_scale": att})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
