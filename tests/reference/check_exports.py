"""maxact's exports against the reference's statistics of every Linear's input
(tap_reference.linear_inputs), read back with readers that are not maxact's: the importance
matrix (scan --imatrix, export imatrix, --format dat) with a GGUF reader written from the
specification (gguf_reader.py) and named by an independent HF -> GGUF table (gguf_names.py);
SmoothQuant's act_scales with torch.load(weights_only=True) and the reference's own safetensors
parser. Called by compare_scan.py on every fp32 run.
"""
import json
import math
import os
import re

import numpy as np

import gguf_names
import gguf_reader

REL = 1e-4


def expected_entries(config, linear, experts, n_experts):
    """{GGUF weight name: (Σx² [n_mat, C] float64, counts [n_mat])}, and problems found."""
    out, problems = {}, []
    order = gguf_names.v_head_order(config)
    for module, ent in linear.items():
        if ".experts." in module:  # routed experts: from the MoE blocks' per-expert rows below
            continue
        sums, rows = ent["sq"], ent["rows"]
        m = re.match(r".*\.layers\.(\d+)\.(.+)$", module)
        if not m:
            problems.append(f"reference Linear {module} outside the decoder layers")
            continue
        layer, rel = int(m.group(1)), m.group(2)
        names = gguf_names.linear_names(config, rel)
        if names is None:
            problems.append(f"reference Linear {module}: no GGUF name in gguf_names.py")
            continue
        v = np.asarray(sums)
        if order is not None and rel == "linear_attn.out_proj":
            v = v[np.asarray(order)]
        for n in names:
            out[f"blk.{layer}.{n}.weight"] = (v[None, :], [rows])
    by_module = {}
    for (module, e), ent in experts.items():
        by_module.setdefault(module, {})[e] = ent
    for module, per in by_module.items():
        layer = int(re.match(r".*\.layers\.(\d+)\.", module).group(1))
        for key, names in (("in", gguf_names.EXPERTS_IN), ("down", gguf_names.EXPERTS_DOWN)):
            C = len(next(iter(per.values()))[key])
            mat = np.zeros((n_experts, C))
            counts = [0] * n_experts
            for e, ent in per.items():
                mat[e] = ent[key]
                counts[e] = ent["rows"]
            for n in names:
                out[f"blk.{layer}.{n}.weight"] = (mat, counts)
    return out, problems


def check(gguf_path, dat_path, config, linear, experts, n_experts, ck):
    want, problems = expected_entries(config, linear, experts, n_experts)
    ck.errors.extend(problems)
    try:
        meta, tensors = gguf_reader.read(gguf_path)
    except ValueError as e:
        ck.errors.append(f"imatrix GGUF unreadable: {e}")
        return
    for key, t in (("general.type", 8), ("imatrix.datasets", 9), ("imatrix.chunk_count", 4),
                   ("imatrix.chunk_size", 4)):
        if key not in meta or meta[key][0] != t:
            ck.errors.append(f"imatrix: key {key} missing or not of GGUF type {t}")
            return
    ck.equal("imatrix", "general.type", meta["general.type"][1], "imatrix")
    chunk = meta["imatrix.chunk_size"][1]
    got_names = {n.rsplit(".", 1)[0] for n in tensors}
    for n in sorted(set(want) - got_names):
        ck.errors.append(f"imatrix: no entry for {n}")
    for n in sorted(got_names - set(want)):
        ck.errors.append(f"imatrix: entry {n} the reference has no Linear for")
    # llama-imatrix's order: weights sorted by name (bytes), each's in_sum2 then counts.
    expect_order = [f"{n}.{part}" for n in sorted(got_names, key=lambda s: s.encode())
                    for part in ("in_sum2", "counts")]
    if list(tensors) != expect_order:
        ck.errors.append("imatrix: tensors not in llama-imatrix's order")
    for n in sorted(set(want) & got_names):
        ref, counts = want[n]
        n_mat, C = ref.shape
        ne_sum = [C] if n_mat == 1 else [C, n_mat]
        ne_cnt = [1] if n_mat == 1 else [1, n_mat]
        s_ne, s = tensors.get(n + ".in_sum2", (None, None))
        c_ne, c = tensors.get(n + ".counts", (None, None))
        if s is None or c is None:
            ck.errors.append(f"imatrix: {n} lacks .in_sum2 or .counts")
            continue
        ck.equal(n, "in_sum2 shape", s_ne, ne_sum)
        ck.equal(n, "counts shape", c_ne, ne_cnt)
        if s_ne != ne_sum or c_ne != ne_cnt:
            continue
        ck.equal(n, "counts", [int(x) for x in c], counts)
        got = s.reshape(n_mat, C)
        for x in range(n_mat):
            scale = float(np.abs(ref[x]).max()) if C else 0.0
            bad = np.nonzero(np.abs(got[x] - ref[x]) > REL * max(scale, 1e-30))[0]
            if len(bad):
                ck.errors.append(f"{n}: in_sum2[{x}][{bad[0]}] {got[x][bad[0]]!r} vs reference "
                                 f"{ref[x][bad[0]]!r} ({len(bad)} channels off)")
    check_dat(dat_path, tensors, chunk, ck)


def check_dat(path, tensors, chunk, ck):
    """The legacy file holds, per weight with any rows, (Σx² / count) * ncall per expert (1 * ncall
    for an expert without rows), ncall = ceil(max count / chunk size): derived here from the GGUF
    file's own values in float32, as llama.cpp computes it."""
    try:
        entries, last_chunk, dataset = gguf_reader.read_dat(path)
    except (ValueError, UnicodeDecodeError) as e:
        ck.errors.append(f"imatrix .dat unreadable: {e}")
        return
    want = {}
    for name in sorted({n.rsplit(".", 1)[0] for n in tensors}):
        s, c = tensors[name + ".in_sum2"][1], tensors[name + ".counts"][1]
        if c.max() <= 0:
            continue
        ncall = math.ceil(float(c.max()) / chunk)
        per = s.reshape(len(c), -1)
        vals = np.concatenate([
            (per[x] / c[x]) * np.float32(ncall) if c[x] > 0 else np.full(per.shape[1], ncall, "f4")
            for x in range(len(c))]).astype(np.float32)
        want[name] = (ncall, vals)
    ck.equal("imatrix.dat", "weights", sorted(entries), sorted(want))
    for name in sorted(set(entries) & set(want)):
        ck.equal(name, ".dat ncall", entries[name][0], want[name][0])
        if not np.array_equal(entries[name][1], want[name][1]):
            ck.errors.append(f"{name}: .dat values differ from in_sum2 / counts * ncall")


def check_act_scales(pt_path, st_path, linear, experts, n_experts, modules, final_norm, ck):
    """Every nn.Linear of the reference (`modules`: path -> in_features, per-expert modules
    included) keyed by its path: max |x| of its input per channel, with :max / :min the signed
    extremes (not per expert); an expert that saw no token all zeros; fused expert tensors
    (experts that are no modules) one row per expert; lm_head from the final norm's output. The
    torch file read by torch.load(weights_only=True), the safetensors file by the reference's own
    parser (hf_dense), both holding the same tensors."""
    import torch
    import hf_dense
    try:
        got = torch.load(pt_path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        ck.errors.append(f"act_scales: torch.load(weights_only=True) failed: {e}")
        return
    want = {"lm_head": np.asarray(final_norm["channel_absmax"]),
            "lm_head:max": np.asarray(final_norm["channel_max"]),
            "lm_head:min": np.asarray(final_norm["channel_min"])}
    # nn.Linear modules, and the routers that are none (gpt-oss, Ling) but read the block input.
    for module in sorted(set(modules) | set(linear)):
        n_in = modules.get(module)
        ent = linear.get(module)
        if ent is None:  # a routed expert no token reached
            want[module] = np.zeros(n_in)
            continue
        want[module] = np.maximum(np.abs(ent["max"]), np.abs(ent["min"]))
        if ".experts." not in module:
            want[module + ":max"], want[module + ":min"] = ent["max"], ent["min"]
    fused = {}
    for (moe, e), ent in experts.items():
        if not any(m.startswith(moe + ".experts.") for m in modules):
            fused.setdefault(moe, {})[e] = ent
    for moe, per in fused.items():
        for key, param in (("in_absmax", "gate_up_proj"), ("down_absmax", "down_proj")):
            mat = np.zeros((n_experts, len(next(iter(per.values()))[key])))
            for e, ent in per.items():
                mat[e] = ent[key]
            want[f"{moe}.experts.{param}"] = mat
    ck.equal("act_scales", "keys", sorted(got), sorted(want))
    for k in sorted(set(got) & set(want)):
        g = got[k].double().numpy()
        w = np.asarray(want[k], dtype=np.float64)
        if g.shape != w.shape:
            ck.errors.append(f"act_scales {k}: shape {g.shape} vs reference {w.shape}")
            continue
        scale = float(np.abs(w).max()) if w.size else 0.0
        if got[k].dtype != torch.float32 or np.any(np.abs(g - w) > REL * max(scale, 1e-30)):
            ck.errors.append(f"act_scales {k}: values (or dtype {got[k].dtype}) differ from the "
                             f"reference")
    st = {}
    hf_dense._read_file(st_path, st)
    ck.equal("act_scales.safetensors", "keys", sorted(st), sorted(got))
    for k in set(st) & set(got):
        if not torch.equal(st[k], got[k]):
            ck.errors.append(f"act_scales.safetensors {k} differs from the torch file")


E4M3_TABLE = None


def e4m3_nearest(y):
    """float32 array -> the nearest E4M3 value (ties to the even code), saturating at +-448:
    written from the format (hf_dense._e4m3's decoding of the 127 positive codes), not maxact's."""
    import hf_dense
    global E4M3_TABLE
    if E4M3_TABLE is None:
        E4M3_TABLE = hf_dense._e4m3(np.arange(127, dtype=np.uint8)).astype(np.float64)
    a = np.abs(y.astype(np.float64))
    lo = np.clip(np.searchsorted(E4M3_TABLE, a, side="right") - 1, 0, 125)
    hi = lo + 1
    d_lo, d_hi = a - E4M3_TABLE[lo], E4M3_TABLE[hi] - a
    pick = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, np.where(lo % 2 == 0, lo, hi)))
    v = np.where(a >= 448.0, 448.0, E4M3_TABLE[pick])
    return np.copysign(v, y)


def check_fp8(out, fixture, fmt, kv_only, modules, linear, ref_stats, text_params, ck):
    """An FP8 export against the source checkpoint and the reference: every nn.Linear of the
    decoder layers (routers, the shared expert's gate and lm_head excepted) cast to E4M3 with
    weight_scale = max|W| / 448 and codes = nearest(W / scale) bit for bit, input_scale within REL
    of the reference's max |x| of that Linear's input / 448 (routed experts: over all experts),
    k / v scales of the KV-cache taps likewise (ModelOpt: raised to at least 1), every other
    tensor and file unchanged, the configuration in the documented form."""
    import hf_dense
    src, got = {}, {}
    for d, dst in ((fixture, src), (out, got)):
        for f in sorted(os.listdir(d)):
            if f.endswith(".safetensors"):
                hf_dense._read_file(os.path.join(d, f), dst)
    src = {hf_dense.canonical(k): v for k, v in src.items()}
    got = {hf_dense.canonical(k): v for k, v in got.items()}
    cfg = json.load(open(os.path.join(out, "config.json")))
    q = cfg.get("quantization_config", {})
    mo = fmt == "modelopt"
    args = {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "tensor",
            "dynamic": False}
    if mo:
        ck.equal("fp8", "quant_method", q.get("quant_method"), "modelopt")
        ck.equal("fp8", "quant_algo", q.get("quant_algo"), "FP8")
        hq_path = os.path.join(out, "hf_quant_config.json")
        if not os.path.exists(hq_path):
            ck.errors.append("fp8: ModelOpt export without hf_quant_config.json")
            return
        hq = json.load(open(hq_path))["quantization"]
        ck.equal("fp8", "hf_quant_config", (hq.get("quant_algo"), hq.get("kv_cache_quant_algo")),
                 ("FP8", "FP8"))
        ck.equal("fp8", "exclude_modules", sorted(hq.get("exclude_modules", [])),
                 sorted(q.get("ignore", [])))
    else:
        ck.equal("fp8", "quant_method", q.get("quant_method"), "compressed-tensors")
        ck.equal("fp8", "format", q.get("format"), "dense" if kv_only else "float-quantized")
        ck.equal("fp8", "kv_cache_scheme", q.get("kv_cache_scheme"), args)
        groups = q.get("config_groups")
        ck.equal("fp8", "config_groups", groups, {} if kv_only else {
            "group_0": {"targets": ["Linear"], "weights": args, "input_activations": args}})
    kept = set()
    for m in modules:
        rel = hf_dense.canonical(m)
        if rel.endswith((".mlp.gate", ".block_sparse_moe.gate", ".shared_expert_gate")):
            kept.add(rel)
    # Matrices of the checkpoint the text model does not run (a vision tower, MTP layers) are
    # Linears vLLM must be told to leave alone.
    others = {k[:-len(".weight")] for k, v in src.items()
              if k.endswith(".weight") and v.dim() == 2 and k not in text_params}
    if not kv_only:
        ignore = {hf_dense.canonical(x) for x in q.get("ignore", [])}
        ck.equal("fp8", "ignore", sorted(ignore - {"lm_head"}),
                 sorted(kept | others | {hf_dense.canonical(m) for m in linear
                                         if m not in modules}))  # routers that are no Linear
    cast = set() if kv_only else {hf_dense.canonical(m) for m in modules} - kept
    scale_shape = () if mo else (1,)
    for m in sorted(cast):
        w, s = src.get(m + ".weight"), got.get(m + ".weight_scale")
        if w is None or s is None or m + ".input_scale" not in got:
            ck.errors.append(f"fp8: {m} not cast (weight_scale / input_scale missing)")
            continue
        ck.equal(m, "weight_scale shape", tuple(s.shape), scale_shape)
        w = w.numpy().astype(np.float32)
        scale = np.float32(np.abs(w).max()) / np.float32(448) if np.abs(w).max() > 0 else 1.0
        if s.numpy().reshape(-1)[0] != scale:
            ck.errors.append(f"fp8: {m}.weight_scale {s.numpy()} vs max|W| / 448 = {scale!r}")
            continue
        want = e4m3_nearest((w / np.float32(scale)).astype(np.float32))
        if not np.array_equal(got[m + ".weight"].numpy(), want.astype(np.float32)):
            bad = int((got[m + ".weight"].numpy() != want).sum())
            ck.errors.append(f"fp8: {m}.weight: {bad} codes differ from nearest(W / scale)")
        ent = linear.get(next((x for x in linear if hf_dense.canonical(x) == m), None))
        if ".experts." in m:  # one scale per layer's experts: their pooled input
            moe = m.split(".experts.")[0]
            ents = [v for k, v in linear.items() if hf_dense.canonical(k).startswith(moe + ".experts.")
                    and k.endswith(m.rsplit(".", 1)[1])]
            ref = max(max(np.abs(e["max"]).max(), np.abs(e["min"]).max()) for e in ents)
        elif ent is None:
            ck.errors.append(f"fp8: the reference never ran {m}")
            continue
        else:
            ref = max(np.abs(ent["max"]).max(), np.abs(ent["min"]).max())
        g = float(got[m + ".input_scale"].numpy().reshape(-1)[0]) * 448
        if abs(g - ref) > REL * ref:
            ck.errors.append(f"fp8: {m}.input_scale * 448 = {g!r} vs reference max |x| {ref!r}")
    # KV-cache scales, on the attention module (ModelOpt: on k_proj / v_proj, at least 1).
    kv = 0
    for tap, st in ref_stats.items():
        if not tap.endswith(":k_cache"):
            continue
        attn = hf_dense.canonical(tap[:-len(":k_cache")])
        for kind in ("k", "v"):
            absmax = ref_stats[f"{tap[:-len(':k_cache')]}:{kind}_cache"]
            ref = max(abs(absmax["max"]["value"]), abs(absmax["min"]["value"])) / 448
            name = f"{attn}.{kind}_proj.{kind}_scale" if mo else f"{attn}.{kind}_scale"
            if name not in got:
                ck.errors.append(f"fp8: no {name}")
                continue
            kv += 1
            ck.equal(name, "shape", tuple(got[name].shape), scale_shape)
            g = float(got[name].numpy().reshape(-1)[0])
            want = max(ref, 1.0) if mo else ref
            if abs(g - want) > REL * want:
                ck.errors.append(f"fp8: {name} {g!r} vs reference {want!r}")
    if kv == 0:
        ck.errors.append("fp8: no KV-cache scales checked")
    # Everything else exactly as it was.
    for k, v in src.items():
        if k[:-len(".weight")] in cast:
            continue
        if k not in got or not torch_equal(got[k], v):
            ck.errors.append(f"fp8: {k} changed or missing")
    extra = set(got) - set(src) - {m + s for m in cast for s in (".weight_scale", ".input_scale")}
    extra = {x for x in extra if not re.search(r"\.(k|v)_(proj\.(k|v)_)?scale$", x)}
    if extra:
        ck.errors.append(f"fp8: unexpected tensors {sorted(extra)[:5]}")
    for f in os.listdir(fixture):
        if f.endswith(".safetensors") or f in ("config.json", "model.safetensors.index.json"):
            continue
        if open(os.path.join(fixture, f), "rb").read() != open(os.path.join(out, f), "rb").read():
            ck.errors.append(f"fp8: {f} not copied unchanged")


def torch_equal(a, b):
    import torch
    return a.shape == b.shape and bool(torch.equal(a, b) or torch.equal(a.isnan(), b.isnan()) and
                                       torch.equal(a[~a.isnan()], b[~b.isnan()]))
