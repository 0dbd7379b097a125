"""An independent PyTorch Llama forward pass written from the Hugging Face modeling semantics
(transformers models/llama/modeling_llama.py, ARCHITECTURES.md §2): module names and structure as
in Hugging Face, so forward hooks see what they would see there. fp32 only for now; the reference
for maxact's engine (issue 4) grows from here.

Reads config.json + model.safetensors with its own safetensors parser (no pickle, no
safetensors package).
"""
import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2", count=(end - b) // 2, offset=8 + n + b)
            arr = (u16.astype(np.uint32) << 16).view(np.float32)
        else:
            dt = np.dtype(dtypes[e["dtype"]]).newbyteorder("<")
            arr = np.frombuffer(raw, dtype=dt, count=(end - b) // dt.itemsize, offset=8 + n + b)
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).astype(np.float32))
    return out


class LlamaRMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))

    def forward(self, positions):
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, self.nh, self.nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or H // self.nh
        bias = c.get("attention_bias", False)
        self.q_proj = nn.Linear(H, self.nh * self.hd, bias=bias)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=bias)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.hd, H, bias=bias)

    def forward(self, x, cos, sin):
        T = x.shape[0]
        q = self.q_proj(x).view(T, self.nh, self.hd).transpose(0, 1)
        k = self.k_proj(x).view(T, self.nkv, self.hd).transpose(0, 1)
        v = self.v_proj(x).view(T, self.nkv, self.hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        s = (q @ k.transpose(1, 2)) / math.sqrt(self.hd)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        s = s.masked_fill(mask, torch.finfo(s.dtype).min)
        p = torch.softmax(s, dim=-1)
        o = (p @ v).transpose(0, 1).reshape(T, self.nh * self.hd)
        return self.o_proj(o)


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        bias = c.get("mlp_bias", False)
        self.gate_proj = nn.Linear(H, I, bias=bias)
        self.up_proj = nn.Linear(H, I, bias=bias)
        self.down_proj = nn.Linear(I, H, bias=bias)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], eps)
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], eps)
        self.mlp = LlamaMLP(c)

    def forward(self, h, cos, sin):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(LlamaDecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = LlamaRMSNorm(c["hidden_size"], c.get("rms_norm_eps", 1e-6))
        hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        self.rotary_emb = LlamaRotaryEmbedding(hd, c.get("rope_theta", 10000.0))

    def forward(self, ids):
        h = self.embed_tokens(ids)
        cos, sin = self.rotary_emb(torch.arange(ids.shape[0]))
        for layer in self.layers:
            h = layer(h, cos, sin)
        return self.norm(h)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        return self.lm_head(self.model(ids))


def load(folder):
    c = json.load(open(os.path.join(folder, "config.json")))
    if c["model_type"] != "llama":
        raise ValueError(f"reference covers llama only so far, not {c['model_type']}")
    m = LlamaForCausalLM(c)
    w = load_safetensors(os.path.join(folder, "model.safetensors"))
    if "lm_head.weight" not in w:  # tied: ARCHITECTURES.md §1.1
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    missing, unexpected = m.load_state_dict(w, strict=False)
    missing = [k for k in missing if not k.endswith("inv_freq")]
    if missing or unexpected:
        raise ValueError(f"missing {missing}, unexpected {unexpected}")
    return m.eval()
