"""The importance matrix maxact writes (scan --imatrix, export imatrix, --format dat) against the
reference's Σx² of every Linear's input (tap_reference.linear_inputs), read back with an
independent GGUF reader (gguf_reader.py) and named by an independent HF -> GGUF table
(gguf_names.py). Called by compare_scan.py on every fp32 run.
"""
import math
import re

import numpy as np

import gguf_names
import gguf_reader

REL = 1e-4


def expected_entries(config, linear, experts, n_experts):
    """{GGUF weight name: (Σx² [n_mat, C] float64, counts [n_mat])}, and problems found."""
    out, problems = {}, []
    order = gguf_names.v_head_order(config)
    for module, (sums, rows) in linear.items():
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
