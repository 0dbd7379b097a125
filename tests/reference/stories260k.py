#!/usr/bin/env python3
"""Converts the llama2.c checkpoint stories260K.bin (tests/assets/stories260k, MIT) into a
Hugging Face Llama folder: config.json + model.safetensors (fp32). llama2.c rotates interleaved
pairs (2i, 2i+1); Hugging Face rotates halves (i, i + head_dim/2), so q and k rows are permuted
per head exactly as transformers' convert_llama_weights_to_hf does.

  stories260k.py STORIES260K.bin OUT_DIR
"""
import json
import os
import struct
import sys

import numpy as np


def read_llama2c(path):
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", raw[:28])
    tied = vocab > 0
    vocab = abs(vocab)
    hd = dim // heads
    data = np.frombuffer(raw, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = data[pos:pos + n].reshape(shape)
        pos += n
        return a

    t = {
        "emb": take(vocab, dim), "rms_att": take(layers, dim), "wq": take(layers, dim, dim),
        "wk": take(layers, kv_heads * hd, dim), "wv": take(layers, kv_heads * hd, dim),
        "wo": take(layers, dim, dim), "rms_ffn": take(layers, dim), "w1": take(layers, hidden, dim),
        "w2": take(layers, dim, hidden), "w3": take(layers, hidden, dim), "rms_final": take(dim),
    }
    take(seq_len, hd // 2)  # freq_cis_real (unused: recomputed from rope_theta)
    take(seq_len, hd // 2)  # freq_cis_imag
    if not tied:
        t["wcls"] = take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab,
               seq_len=seq_len, tied=tied)
    return cfg, t


def permute(w, n_heads):
    """llama2.c interleaved rotary layout -> Hugging Face rotate_half layout."""
    rows, cols = w.shape
    return w.reshape(n_heads, rows // n_heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def write_safetensors(path, tensors):
    header, off, blobs = {}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def convert(src, out):
    c, t = read_llama2c(src)
    os.makedirs(out, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": c["vocab"],
        "hidden_size": c["dim"], "intermediate_size": c["hidden"], "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"], "num_key_value_heads": c["kv_heads"],
        "head_dim": c["dim"] // c["heads"], "max_position_embeddings": c["seq_len"],
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": c["tied"], "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    w = {"model.embed_tokens.weight": t["emb"], "model.norm.weight": t["rms_final"]}
    for i in range(c["layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = t["rms_att"][i]
        w[p + "self_attn.q_proj.weight"] = permute(t["wq"][i], c["heads"])
        w[p + "self_attn.k_proj.weight"] = permute(t["wk"][i], c["kv_heads"])
        w[p + "self_attn.v_proj.weight"] = t["wv"][i]
        w[p + "self_attn.o_proj.weight"] = t["wo"][i]
        w[p + "post_attention_layernorm.weight"] = t["rms_ffn"][i]
        w[p + "mlp.gate_proj.weight"] = t["w1"][i]
        w[p + "mlp.down_proj.weight"] = t["w2"][i]
        w[p + "mlp.up_proj.weight"] = t["w3"][i]
    if not c["tied"]:
        w["lm_head.weight"] = t["wcls"]
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    return config


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(convert(sys.argv[1], sys.argv[2])))
