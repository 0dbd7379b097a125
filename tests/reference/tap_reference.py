"""Per-tap activation statistics computed in float64 from the reference model's own activations,
collected with real forward hooks and pre-hooks at the tap points (docs/NUMERICS.md §11,
docs/ARCHITECTURE.md §5).

Tap names follow maxact's convention: the Hugging Face module path, ':in' for a Linear's input,
':resid_mid' for the residual stream between the two sub-blocks, ':k_cache' / ':v_cache' for what
a KV cache stores (HF's Cache.update arguments). Per-head tensors are flattened to
[tokens, heads * head_dim].
"""
import math

import numpy as np
import torch


class Recorder:
    def __init__(self):
        self.rows = {}  # tap -> list of [T, C] float64 arrays
        self.experts = {}  # (MoE module, expert) -> {"load": rows, "max": located max |x|}
        self.current = None  # (sample, ids) of the sequence being run
        # Calibration statistics of every Linear's input, float64: module -> {"sq": Σx² per
        # channel, "max", "min", "rows"}; (MoE module, expert) -> {"in": Σx², "down": Σx²,
        # "in_absmax", "down_absmax", "rows"} for routed experts.
        self.linear = {}
        self.expert_inputs = {}
        self.moe_input = {}  # MoE module -> its input rows of the current sequence

    def linear_input(self, name, t):
        a = t.detach().to(torch.float64).reshape(-1, t.shape[-1]).numpy()
        ent = self.linear.setdefault(name, {"sq": np.zeros(a.shape[1]), "rows": 0,
                                            "max": np.full(a.shape[1], -np.inf),
                                            "min": np.full(a.shape[1], np.inf)})
        ent["sq"] += (a * a).sum(axis=0)
        ent["rows"] += a.shape[0]
        if a.shape[0]:
            ent["max"] = np.maximum(ent["max"], a.max(axis=0))
            ent["min"] = np.minimum(ent["min"], a.min(axis=0))

    def expert_rows(self, module, e, down, tok):
        """Σx² of an expert's inputs: its gate/up projections' (the MoE block's input at the
        tokens routed to it) and its down projection's (`down`)."""
        x = self.moe_input[module][np.asarray(tok)]
        d = down.detach().to(torch.float64).reshape(len(tok), -1).numpy()
        ent = self.expert_inputs.setdefault((module, e), {"in": 0.0, "down": 0.0, "rows": 0,
                                                          "in_absmax": 0.0, "down_absmax": 0.0})
        ent["in"] = ent["in"] + (x * x).sum(axis=0)
        ent["down"] = ent["down"] + (d * d).sum(axis=0)
        ent["in_absmax"] = np.maximum(ent["in_absmax"], np.abs(x).max(axis=0))
        ent["down_absmax"] = np.maximum(ent["down_absmax"], np.abs(d).max(axis=0))
        ent["rows"] += len(tok)

    def put(self, name, t, positions=None):
        """Rows of one sequence; `positions` gives each row's token position when the rows are a
        subset (tokens routed to one expert), else rows are positions 0..T-1."""
        if isinstance(t, tuple):
            t = t[0]
        T = len(self.current[1]) if positions is None else len(positions)
        a = t.detach().to(torch.float64).reshape(T, -1).numpy().copy()
        pos = np.arange(T) if positions is None else np.asarray(positions)
        self.rows.setdefault(name, []).append((self.current[0], a, pos))

    def expert(self, module, e, t, positions):
        """Per expert: rows routed to it and the largest |x| of its down projection's input, the
        earliest (sample, position, channel) on ties, as maxact reports it."""
        a = t.detach().to(torch.float64).reshape(len(positions), -1).numpy()
        ent = self.experts.setdefault((module, e), {"load": 0, "max": None})
        ent["load"] += len(positions)
        A = np.abs(np.where(np.isfinite(a), a, -1.0))
        if A.size == 0:
            return
        best = A.max()
        for r, p in enumerate(positions):  # positions ascend within a sequence's call
            hit = np.nonzero(A[r] == best)[0]
            if len(hit):
                cand = (self.current[0], int(p), int(hit[0]))
                cur = ent["max"]
                if (cur is None or best > abs(cur["value"]) or
                        (best == abs(cur["value"]) and cand < (cur["sample"], cur["position"], cur["channel"]))):
                    ent["max"] = {"value": float(a[r, hit[0]]), "sample": cand[0], "position": cand[1],
                                  "channel": cand[2]}
                break


def attach(model):
    """Registers hooks on model (hf_dense.ForCausalLM); returns the Recorder."""
    rec = Recorder()
    P = model.prefix
    text = model.text

    def out_hook(name):
        return lambda mod, inp, out: rec.put(name, out)

    def in_hook(name):
        return lambda mod, inp: rec.put(name, inp[0])

    # Every Linear module's input (per-expert modules too, where experts are modules).
    for name, mod in text.named_modules():
        if isinstance(mod, torch.nn.Linear):
            mod.register_forward_pre_hook(
                lambda m, inp, name=f"{P}.{name}": rec.linear_input(name, inp[0]))
    getattr(text, text.embed_name).register_forward_hook(out_hook(f"{P}.{text.embed_name}"))
    text.norm.register_forward_hook(out_hook(P + ".norm"))
    for i, layer in enumerate(text.layers):
        L = f"{P}.layers.{i}"
        layer.register_forward_hook(out_hook(L))
        layer.input_layernorm.register_forward_hook(out_hook(L + ".input_layernorm"))
        layer.post_attention_layernorm.register_forward_hook(out_hook(L + ".post_attention_layernorm"))
        A = f"{L}.{layer.attn_name}"
        a = getattr(layer, layer.attn_name)
        a.register_forward_hook(out_hook(A))
        # Ling: attention.dense; Gated DeltaNet: linear_attn.out_proj.
        o = next(n for n in ("dense", "out_proj", "o_proj") if hasattr(a, n))
        getattr(a, o).register_forward_pre_hook(in_hook(f"{A}.{o}:in"))
        if hasattr(a, "record_conv"):
            a.record_conv = lambda y, A=A: rec.put(A + ":conv_out", y)
            a.record_state = lambda v, pos, A=A: rec.put(A + ":state_absmax", v, pos)
        for n in ("q_proj", "k_proj", "v_proj", "qkv_proj", "q_norm", "k_norm", "query_key_value",
                  "query_layernorm", "key_layernorm", "in_proj_qkvz", "in_proj_ba", "in_proj_qkv",
                  "in_proj_z", "in_proj_b", "in_proj_a"):
            if hasattr(a, n):
                getattr(a, n).register_forward_hook(out_hook(f"{A}.{n}"))

        def cache(k, v, A=A):
            # k, v: [heads, T, hd] -> [T, heads * hd]
            rec.put(A + ":k_cache", k.transpose(0, 1))
            rec.put(A + ":v_cache", v.transpose(0, 1))
        a.cache = cache
        if layer.sandwich:
            layer.pre_feedforward_layernorm.register_forward_pre_hook(in_hook(L + ":resid_mid"))
            layer.pre_feedforward_layernorm.register_forward_hook(out_hook(L + ".pre_feedforward_layernorm"))
            layer.post_feedforward_layernorm.register_forward_hook(out_hook(L + ".post_feedforward_layernorm"))
        else:
            layer.post_attention_layernorm.register_forward_pre_hook(in_hook(L + ":resid_mid"))
        if hasattr(layer, "block_sparse_moe") or hasattr(layer.mlp, "experts"):
            name = "block_sparse_moe" if hasattr(layer, "block_sparse_moe") else "mlp"
            m = getattr(layer, name)
            M = f"{L}.{name}"
            m.register_forward_hook(out_hook(M))

            def record(x, tok, e, M=M):
                rec.put(M + ".experts:down_proj:in", x, tok.tolist())
                rec.expert(M, e, x, tok.tolist())
                rec.expert_rows(M, e, x, tok.tolist())

            def moe_in(mod, inp, M=M):
                rec.moe_input[M] = inp[0].detach().to(torch.float64).reshape(
                    -1, inp[0].shape[-1]).numpy()
            m.register_forward_pre_hook(moe_in)
            if not isinstance(getattr(m, "router", getattr(m, "gate", None)), torch.nn.Linear):
                # A router that is no nn.Linear module (gpt-oss, Ling) reads the block's input.
                R = M + (".router" if hasattr(m, "router") else ".gate")
                m.register_forward_pre_hook(lambda mod, inp, R=R: rec.linear_input(R, inp[0]))
            if hasattr(m, "router"):  # gpt-oss: the router returns scores, the logits are kept
                R = M + ".router"
                m.router.record_logits = lambda x, R=R: rec.put(R, x)
                m.experts.record = record
            elif hasattr(m.gate, "record_logits"):  # Ling: the gate returns (idx, weights, logits)
                R = M + ".gate"
                m.gate.record_logits = lambda x, R=R: rec.put(R, x)
                m.record = record
            else:
                R = M + ".gate"
                m.gate.register_forward_hook(out_hook(R))
                m.record = record
            m.record_weights = lambda w, R=R: rec.put(R + ":weights", w)
            for sname in ("shared_experts", "shared_expert"):  # Ling, Qwen
                shared = getattr(m, sname, None)
                if shared is not None:
                    S = f"{M}.{sname}"
                    shared.register_forward_hook(out_hook(S))
                    shared.down_proj.register_forward_pre_hook(in_hook(S + ".down_proj:in"))
            if hasattr(m, "shared_expert_gate"):
                m.shared_expert_gate.register_forward_hook(out_hook(M + ".shared_expert_gate"))
            continue
        m = layer.mlp
        m.register_forward_hook(out_hook(L + ".mlp"))
        m.down_proj.register_forward_pre_hook(in_hook(L + ".mlp.down_proj:in"))
        for n in ("gate_proj", "up_proj", "gate_up_proj"):
            if hasattr(m, n):
                getattr(m, n).register_forward_hook(out_hook(f"{L}.mlp.{n}"))
    return rec


_last = {}



_experts = {}
_linear = {}
_expert_inputs = {}


def linear_inputs():
    """Of the last run: ({Linear module: {"sq", "max", "min", "rows"}},
    {(MoE module, expert): {"in", "down", "in_absmax", "down_absmax", "rows"}})."""
    return dict(_linear), dict(_expert_inputs)


def expert_summary():
    """{(MoE module, expert): {"load", "max"}} of the last run."""
    return dict(_experts)


def run(model, sequences, dtype, band=0.0):
    """sequences: [(sample index, [ids])]. Returns {tap: stats dict}; threshold counts are
    [strict, loose] brackets for values within the relative tolerance `band` of a threshold."""
    rec = attach(model)
    with torch.no_grad():
        for sample, ids in sequences:
            rec.current = (sample, ids)
            model.text(torch.tensor(ids, dtype=torch.long))
    _last.clear()
    _last.update(rec.rows)
    _experts.clear()
    _experts.update(rec.experts)
    _linear.clear()
    _linear.update(rec.linear)
    _expert_inputs.clear()
    _expert_inputs.update(rec.expert_inputs)
    return {name: stats(parts, sequences, band) for name, parts in rec.rows.items()}


def value_at(tap, loc):
    """The reference's activation at (sample, position, channel) of the last run, or None."""
    sample, position, channel = loc
    for s, a, pos in _last.get(tap, []):
        if s == sample and 0 <= channel < a.shape[1]:
            hit = np.nonzero(pos == position)[0]
            if len(hit):
                return float(a[hit[0], channel])
    return None


def stats(parts, sequences, band, topk=100):
    ids_of = dict(sequences)
    # Rows ordered by (sample, position) so the first flat index of an extreme is the earliest
    # location (expert rows arrive expert by expert).
    X = np.concatenate([a for _, a, _ in parts])
    samples = np.concatenate([np.full(len(a), s) for s, a, _ in parts])
    positions = np.concatenate([p for _, _, p in parts])
    tokens = np.concatenate([np.array(ids_of[s])[p] for s, _, p in parts])
    order = np.lexsort((positions, samples))
    X, samples, positions, tokens = X[order], samples[order], positions[order], tokens[order]
    T, C = X.shape
    finite = np.isfinite(X)
    v = X[finite]
    A = np.abs(np.where(finite, X, 0.0))

    def loc(flat):
        r, ch = divmod(int(flat), C)
        return {"sample": int(samples[r]), "position": int(positions[r]), "token": int(tokens[r]),
                "channel": ch, "value": float(X[r, ch])}

    # maxact's tie rule: the earliest (sample, position, channel). Rows of MoE expert taps repeat
    # a location once per expert routed to, so ties are broken on the location itself, not on
    # the row order (clamped gpt-oss activations tie exactly across experts).
    flat_s = np.repeat(samples, C)
    flat_p = np.repeat(positions, C)
    flat_c = np.tile(np.arange(C), T)

    def earliest(mask):
        hits = np.nonzero(mask.reshape(-1))[0]
        return hits[np.lexsort((flat_c[hits], flat_p[hits], flat_s[hits]))[0]]

    Xmax = np.where(finite, X, -np.inf)
    Xmin = np.where(finite, X, np.inf)
    order = np.lexsort((flat_c, flat_p, flat_s, -A.reshape(-1)))[:topk]
    # Threshold counts as [strict, loose] brackets: a value within the comparison tolerance
    # (band) of a threshold may fall on either side (kernels differ in the last ulp), so the
    # reference counts it out for the lower bound and in for the upper. The Sun ratio |x| / median:
    # the median moves by band times the row's max (its absolute error), |x| by band times itself.
    lo, hi = 1 + band, 1 - band
    massive_values = [0, 0]
    massive_tokens = [0, 0]
    # Per token (Sun et al.): max |x|, the lower median |x| (torch.median's) over the finite
    # channels, their ratio with the median clamped to the smallest normal float.
    tiny = float(np.finfo(np.float32).tiny)
    per_token = []  # (row, max |x|, median, ratio)
    for r in range(T):
        a = np.abs(X[r][finite[r]])
        if len(a) == 0:
            continue
        m = np.sort(a)[(len(a) - 1) // 2]
        per_token.append((r, float(a.max()), float(m), float(a.max()) / max(float(m), tiny)))
        M = float(a.max())
        for i, (f, dm) in enumerate(((lo, band * M), (hi, -band * M))):
            # strict: |x| shrunk, median grown; loose: the other way
            hit = (a > 100 * f) & (a * (2 - f) / max(m + dm, tiny) > 1000)
            massive_values[i] += int(hit.sum())
            massive_tokens[i] += int(hit.any())

    def channel(e):
        return int(np.nonzero(A[e[0]] == e[1])[0][0])

    def best(key, other):
        """The token of the largest key, then the earliest (sample, position, channel of its max),
        then the largest other key (maxact's total order: expert rows repeat a location),
        located, with `margin`: how far (relative) the best key at any other location lies below
        it, so a comparison can tell a near-tie from a wrong answer."""
        if not per_token:
            return None
        r, amax, med, ratio = min(per_token, key=lambda e: (
            -key(e), samples[e[0]], positions[e[0]], channel(e), -other(e)))
        where = (samples[r], positions[r])
        others = [key(e) for e in per_token if (samples[e[0]], positions[e[0]]) != where]
        top = key((r, amax, med, ratio))
        margin = (top - max(others)) / top if others and math.isfinite(top) and top > 0 else 1.0
        ch = channel((r, amax))
        return {"sample": int(samples[r]), "position": int(positions[r]), "token": int(tokens[r]),
                "channel": ch, "abs": amax, "median": med, "ratio": ratio, "margin": margin}

    ratios = np.array([e[3] for e in per_token])
    finite_r = ratios[np.isfinite(ratios)]
    # What `band` (a relative error of every value against its row's max |x|, the comparison's
    # premise for activations) allows the ratio statistics: a median m of a row with max M moves by
    # band * M, so r = M / m by about band * r * (1 + r); the mean by the mean of that, E[r^2] by
    # twice E[r * that], and the std by their combination.
    if finite_r.size == ratios.size and ratios.size:
        dr = band * finite_r * (1 + finite_r)
        d_mean = float(dr.mean())
        d_sq = float((2 * finite_r * dr).mean())
        std = float(finite_r.std())
        d_std = (d_sq + 2 * float(finite_r.mean()) * d_mean) / (2 * std) if std > 0 else d_sq ** 0.5
    else:
        d_mean = d_std = None
    all_abs = np.sort(np.abs(v))
    quantiles = {}
    for q in (0.25, 0.5, 0.75, 0.9, 0.99, 0.999):
        # The nearest-rank quantile (rank ceil(q n)) that maxact's histogram brackets.
        k = max(1, math.ceil(q * all_abs.size)) if all_abs.size else 0
        quantiles[repr(q)] = float(all_abs[k - 1]) if k else None
    return {
        "count": int(v.size),
        "sum": float(v.sum()),
        "sum_sq": float((v * v).sum()),
        "sum_abs": float(np.abs(v).sum()),
        "max": loc(earliest(Xmax == Xmax.max())),
        "min": loc(earliest(Xmin == Xmin.min())),
        "channel_absmax": A.max(axis=0).tolist(),
        "channel_max": np.where(finite, X, -np.inf).max(axis=0).tolist(),
        "channel_min": np.where(finite, X, np.inf).min(axis=0).tolist(),
        "channel_sum_sq": (np.where(finite, X, 0.0) ** 2).sum(axis=0).tolist(),
        "top": [loc(i) for i in order],
        "q50_lo": float(np.quantile(np.abs(v), 0.5, method="lower")) if v.size else 0.0,
        "q50_hi": float(np.quantile(np.abs(v), 0.5, method="higher")) if v.size else 0.0,
        "q99_lo": float(np.quantile(np.abs(v), 0.99, method="lower")) if v.size else 0.0,
        "q99_hi": float(np.quantile(np.abs(v), 0.99, method="higher")) if v.size else 0.0,
        "per_token": {
            "tokens": len(per_token),
            "peak": best(lambda e: e[1], lambda e: e[3]),
            "max_ratio": best(lambda e: e[3], lambda e: e[1]),
            "ratio_mean": float(finite_r.mean()) if finite_r.size == ratios.size and ratios.size
            else None,
            "ratio_std": float(finite_r.std()) if finite_r.size == ratios.size and ratios.size
            else None,
            "ratio_mean_tolerance": d_mean,
            "ratio_std_tolerance": d_std,
        },
        "nearest_rank_quantiles": quantiles,
        "massive_values": massive_values,
        "massive_tokens": massive_tokens,
        "over_fp16": [int((np.abs(v) > 65504 * f).sum()) for f in (lo, hi)],
        "over_fp8": [int((np.abs(v) > 448 * f).sum()) for f in (lo, hi)],
        "nan": int(np.isnan(X).sum()),
        "inf": int(np.isinf(X).sum()),
        "tokens": T,
    }
