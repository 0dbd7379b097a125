"""A GGUF reader written from the format's specification (ggml's docs/gguf.md: little-endian
header "GGUF", version, tensor and key-value counts; typed key-values; tensor infos; data aligned
to general.alignment, default 32), independent of maxact's writer. Reads what importance matrices
hold: scalar, string and array values, F32 tensors. Raises ValueError on anything malformed.
"""
import struct

import numpy as np

# GGUF value types -> struct format (scalars); 8 = string, 9 = array.
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
           12: "d"}
GGML_F32 = 0


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        size = struct.calcsize("<" + fmt)
        if self.p + size > len(self.d):
            raise ValueError(f"truncated at byte {self.p}")
        v = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += size
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("Q")
        if self.p + n > len(self.d):
            raise ValueError("string past the end")
        s = self.d[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        if t in SCALARS:
            return self.take(SCALARS[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"unknown value type {t}")


def read(path):
    """(metadata {key: (type, value)}, tensors {name: (ne list, numpy array in ggml order)})."""
    data = open(path, "rb").read()
    r = Reader(data)
    if r.take("I") != 0x46554747:
        raise ValueError("not a GGUF file (magic)")
    version = r.take("I")
    if version != 3:
        raise ValueError(f"GGUF version {version}")
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        t = r.take("I")
        if key in meta:
            raise ValueError(f"duplicate key {key}")
        meta[key] = (t, r.value(t))
    align = meta.get("general.alignment", (4, 32))[1]
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("I")
        ne = [r.take("Q") for _ in range(nd)]
        t, off = r.take("I"), r.take("Q")
        infos.append((name, ne, t, off))
    start = (r.p + align - 1) // align * align
    tensors = {}
    expected = 0
    for name, ne, t, off in infos:
        if t != GGML_F32:
            raise ValueError(f"{name}: type {t}, expected F32")
        if off != expected:
            raise ValueError(f"{name}: offset {off}, expected {expected}")
        n = int(np.prod(ne)) if ne else 1
        end = start + off + 4 * n
        if end > len(data):
            raise ValueError(f"{name}: data past the end")
        if name in tensors:
            raise ValueError(f"duplicate tensor {name}")
        tensors[name] = (ne, np.frombuffer(data, dtype="<f4", count=n, offset=start + off))
        expected = (off + 4 * n + align - 1) // align * align
    if start + expected != len(data):
        raise ValueError(f"file is {len(data)} bytes, tensors end at {start + expected}")
    return meta, tensors


def read_dat(path):
    """llama.cpp's legacy imatrix (.dat): ({name: (ncall, values)}, last_chunk, dataset)."""
    r = Reader(open(path, "rb").read())
    entries = {}
    for _ in range(r.take("i")):
        n = r.take("i")
        name = r.d[r.p:r.p + n].decode()
        r.p += n
        ncall, nval = r.take("i"), r.take("i")
        entries[name] = (ncall, np.array(r.take(f"{nval}f") if nval > 1 else [r.take("f")],
                                          dtype=np.float32))
    last_chunk = r.take("i")
    n = r.take("i")
    dataset = r.d[r.p:r.p + n].decode()
    if r.p + n != len(r.d):
        raise ValueError("trailing bytes")
    return entries, last_chunk, dataset
