"""An independent PyTorch forward pass of the attention decoder families, written from the Hugging
Face modeling semantics (transformers models/{llama,mistral,mixtral,qwen2,qwen2_5_vl,qwen3,
qwen3_moe,gemma,gemma2,gemma3,phi3,gpt_oss}, eager attention; gpt-oss's MoE block and MXFP4
decoding in hf_gpt_oss.py; Ling's bailing_moe v1/v2 from their hub modeling files in hf_bailing.py; the Gated DeltaNet hybrids qwen3_next / qwen3_5 / qwen3_5_moe in
hf_qwen_hybrid.py; docs/NUMERICS.md). Module names and structure are those
of Hugging Face, so forward hooks and pre-hooks see what they would see there. Runs in float32 or
bfloat16 (op by op as eager PyTorch does).

Reads config.json + safetensors with its own parser (no pickle, no safetensors package).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rope_reference  # noqa: E402

DENSE = {"llama", "mistral", "qwen2", "qwen2_5_vl", "qwen3", "gemma", "gemma2", "gemma3",
         "gemma3_text", "phi3", "mixtral", "qwen3_moe", "gpt_oss", "bailing_moe", "bailing_moe_v2",
         "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text"}
GEMMA = {"gemma", "gemma2", "gemma3", "gemma3_text"}
BAILING = {"bailing_moe", "bailing_moe_v2"}
HYBRID = {"qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text"}


def is_linear_attention_layer(c, layer):
    types = c.get("layer_types")
    if types:
        return types[layer] == "linear_attention"
    return (layer + 1) % c.get("full_attention_interval", 4) != 0


def _read_file(path, out):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    plain = {"F32": np.float32, "F16": np.float16}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        off = 8 + n + b
        if e["dtype"] == "U8":  # MXFP4 blocks and scales, decoded in load()
            out[name] = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, count=end - b,
                                                       offset=off).reshape(e["shape"]).copy())
            continue
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2", count=(end - b) // 2, offset=off)
            arr = (u16.astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] == "F8_E4M3":
            codes = np.frombuffer(raw, dtype=np.uint8, count=end - b, offset=off)
            arr = torch.from_numpy(codes.copy()).view(torch.float8_e4m3fn).float().numpy() \
                if hasattr(torch, "float8_e4m3fn") else _e4m3(codes)
        else:
            dt = np.dtype(plain[e["dtype"]]).newbyteorder("<")
            arr = np.frombuffer(raw, dtype=dt, count=(end - b) // dt.itemsize, offset=off)
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).astype(np.float32))


def _e4m3(codes):
    """float8_e4m3fn decoding (torch 1.13 has no float8 dtype)."""
    c = codes.astype(np.int32)
    s = np.where(c & 0x80, -1.0, 1.0)
    e = (c >> 3) & 0xF
    m = c & 0x7
    v = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * 2.0 ** (e - 7.0))
    v = np.where((e == 0xF) & (m == 0x7), np.nan, v)
    return (s * v).astype(np.float32)


def load_safetensors(folder):
    out = {}
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        for f in sorted(set(json.load(open(index))["weight_map"].values())):
            _read_file(os.path.join(folder, f), out)
    else:
        _read_file(os.path.join(folder, "model.safetensors"), out)
    return out


def text_config(cfg):
    c = dict(cfg.get("text_config") or cfg)
    c.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", False))
    return c


# ---- modules ------------------------------------------------------------------------------------

# Hugging Face runs on CUDA, where bf16 GEMMs take bf16 inputs, accumulate in fp32 and round once
# (bias in the epilogue). Debian's CPU torch 1.13 does not always: its bf16 bmm rounds every
# product and accumulates in bf16. The reference therefore spells the GEMMs out in fp32 and
# rounds the result, which is the semantics docs/NUMERICS.md §2 specifies.
def matmul(a, b):
    if a.dtype == torch.float32:
        return torch.matmul(a, b)
    return torch.matmul(a.float(), b.float()).to(a.dtype)


def scalar_op(t, f):
    return f(t.float()).to(t.dtype)


class Linear(nn.Linear):
    def forward(self, x):
        if x.dtype == torch.float32:
            return super().forward(x)
        b = None if self.bias is None else self.bias.float()
        return nn.functional.linear(x.float(), self.weight.float(), b).to(x.dtype)


class LlamaRMSNorm(nn.Module):
    """N1: weight * (x * rsqrt(mean(x^2) + eps)).to(dtype) (two roundings in bf16)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + self.variance_epsilon)
        return self.weight * h.to(dtype)


class GemmaRMSNorm(nn.Module):
    """N2: (x * rsqrt(mean(x^2) + eps)) * (1 + w) in fp32, one rounding."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        h = x.float()
        out = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        out = out * (1.0 + self.weight.float())
        return out.type_as(x)


class GptOssRMSNorm(nn.Module):
    """N3: (w * (x * rsqrt(mean(x^2) + eps))) in fp32 with the weight kept in fp32, one rounding."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (self.weight.float() * h).to(x.dtype)


def norm_class(mt):
    if mt in GEMMA or mt in HYBRID:
        return GemmaRMSNorm
    return GptOssRMSNorm if mt == "gpt_oss" else LlamaRMSNorm


class ScaledWordEmbedding(nn.Embedding):
    """Gemma: rows times sqrt(hidden) rounded to the model dtype first."""

    def __init__(self, n, d, scale):
        super().__init__(n, d)
        self.scale = scale

    def forward(self, ids):
        e = super().forward(ids)
        return e * torch.tensor(self.scale, dtype=e.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(inv_freq, att, T, dtype):
    pos = torch.arange(T, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * att).to(dtype), (emb.sin() * att).to(dtype)


def apply_rope(x, cos, sin):
    d = cos.shape[-1]
    rot, keep = x[..., :d], x[..., d:]
    rot = rot * cos + rotate_half(rot) * sin
    return torch.cat((rot, keep), dim=-1)


def rope_and_repeat(mod, q, k, v, cos, sin):
    """q [T, Hq, hd], k and v [T, Hkv, hd] -> heads first, RoPE on q and k, the module's KV-cache
    hook (k after RoPE, as a cache stores it), k and v repeated for grouped-query attention."""
    q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    if mod.cache is not None:
        mod.cache(k, v)
    rep = q.shape[0] // k.shape[0]
    return q, k.repeat_interleave(rep, dim=0), v.repeat_interleave(rep, dim=0)


def causal_mask(T, window, dtype):
    """Additive mask: 0 where key j is visible from query i (j <= i, and i - j < window when
    sliding), the dtype's lowest value elsewhere."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    visible = j <= i
    if window:
        visible &= (i - j) < window
    return torch.zeros(T, T, dtype=dtype).masked_fill(~visible, torch.finfo(dtype).min)


def softmax_topk(logits, k, normalize, dtype=None):
    """Router R1: softmax in fp32 over all experts, the top k (equal probabilities, which bf16
    logits make common, go to the lower expert id first, as CUDA's topk does in practice,
    docs/NUMERICS.md §7; CPU topk promises no order, so sort), optionally renormalised in
    fp32, cast to dtype when given. Returns (indices, weights)."""
    p = torch.softmax(logits, dim=-1, dtype=torch.float)
    idx = torch.sort(-p, dim=-1, stable=True).indices[:, :k]
    w = p.gather(-1, idx)
    if normalize:
        w = w / w.sum(dim=-1, keepdim=True)
    return idx, (w if dtype is None else w.to(dtype))


class Attention(nn.Module):
    def __init__(self, c, mt, layer, norm_cls):
        super().__init__()
        H = c["hidden_size"]
        self.nh, self.nkv = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
        self.hd = c.get("head_dim") or H // self.nh
        self.mt = mt
        qb = mt in ("qwen2", "qwen2_5_vl") or c.get("attention_bias", False)
        ob = c.get("attention_bias", False) and mt not in ("qwen2", "qwen2_5_vl")
        if mt == "phi3":
            self.qkv_proj = Linear(H, (self.nh + 2 * self.nkv) * self.hd, bias=False)
        else:
            self.q_proj = Linear(H, self.nh * self.hd, bias=qb)
            self.k_proj = Linear(H, self.nkv * self.hd, bias=qb)
            self.v_proj = Linear(H, self.nkv * self.hd, bias=qb)
        self.o_proj = Linear(self.nh * self.hd, H, bias=ob)
        if mt in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text"):
            self.q_norm = norm_cls(self.hd, c["rms_norm_eps"])
            self.k_norm = norm_cls(self.hd, c["rms_norm_eps"])
        if mt in GEMMA - {"gemma"}:
            self.scaling = c["query_pre_attn_scalar"] ** -0.5
        else:
            self.scaling = self.hd ** -0.5
        self.softcap = c.get("attn_logit_softcapping") if mt == "gemma2" else None
        self.window = sliding_window(c, mt, layer)
        self.sinks = nn.Parameter(torch.zeros(self.nh)) if mt == "gpt_oss" else None
        self.cache = None  # a callable standing in for HF's Cache.update(k, v, layer)

    def forward(self, x, cos, sin):
        T = x.shape[0]
        if self.mt == "phi3":
            qkv = self.qkv_proj(x)
            a, b = self.nh * self.hd, self.nkv * self.hd
            q, k, v = qkv[..., :a], qkv[..., a:a + b], qkv[..., a + b:]
        else:
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        q = q.view(T, self.nh, self.hd)
        k = k.view(T, self.nkv, self.hd)
        v = v.view(T, self.nkv, self.hd)
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = rope_and_repeat(self, q, k, v, cos, sin)
        # Scalar multiplies and divides in fp32 with one rounding, as CUDA's opmath does (CPU torch
        # 1.13 rounds the Python scalar to bf16 first).
        w = scalar_op(matmul(q, k.transpose(1, 2)), lambda t: t * self.scaling)
        if self.softcap:
            w = scalar_op(torch.tanh(scalar_op(w, lambda t: t / self.softcap)),
                          lambda t: t * self.softcap)
        w = w + causal_mask(T, self.window, w.dtype)
        if self.sinks is not None:
            # gpt-oss: each head's sink joins as a last column, the max is subtracted in the
            # model dtype, softmax (fp32 inside, rounded), and the sink column is dropped.
            sink = self.sinks.reshape(-1, 1, 1).expand(-1, T, 1)
            comb = torch.cat([w, sink], dim=-1)
            comb = comb - comb.max(dim=-1, keepdim=True).values
            p = torch.softmax(comb, dim=-1, dtype=torch.float32).to(q.dtype)[..., :-1]
        else:
            p = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = matmul(p, v).transpose(0, 1).reshape(T, self.nh * self.hd)
        return self.o_proj(o), None


def is_moe_layer(c, layer):
    """Qwen3-MoE: sparse unless listed in mlp_only_layers, every decoder_sparse_step-th layer."""
    return (layer not in (c.get("mlp_only_layers") or []) and c.get("num_experts", 0) > 0
            and (layer + 1) % c.get("decoder_sparse_step", 1) == 0)


def sliding_window(c, mt, layer):
    W = c.get("sliding_window")
    types = c.get("layer_types")
    if mt in ("mistral", "phi3", "mixtral"):
        return W
    if mt in ("qwen2", "qwen2_5_vl", "qwen3", "qwen3_moe"):
        if not c.get("use_sliding_window", False):
            return None
        if types:
            return W if types[layer] == "sliding_attention" else None
        return W if layer >= c.get("max_window_layers", 0) else None
    if mt in ("gemma2", "gpt_oss"):
        if types:
            return W if types[layer] == "sliding_attention" else None
        return W if layer % 2 == 0 else None
    if mt in ("gemma3", "gemma3_text"):
        if types:
            return W if types[layer] == "sliding_attention" else None
        return W if (layer + 1) % c.get("sliding_window_pattern", 6) != 0 else None
    return None


class MLP(nn.Module):
    def __init__(self, c, mt):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.mt = mt
        bias = c.get("mlp_bias", False)
        if mt == "phi3":
            self.gate_up_proj = Linear(H, 2 * I, bias=False)
        else:
            self.gate_proj = Linear(H, I, bias=bias)
            self.up_proj = Linear(H, I, bias=bias)
        self.down_proj = Linear(I, H, bias=bias)
        # Activations in fp32, rounded once: PyTorch's CUDA kernels compute bf16 silu/gelu in
        # fp32 (opmath); Debian's CPU torch 1.13 bf16 kernels round intermediates instead.
        if mt in GEMMA:
            self.act_fn = lambda x: nn.functional.gelu(x.float(), approximate="tanh").to(x.dtype)
        else:
            self.act_fn = lambda x: nn.functional.silu(x.float()).to(x.dtype)

    def forward(self, x):
        if self.mt == "phi3":
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
            return self.down_proj(up * self.act_fn(gate))
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class ExpertMLP(nn.Module):
    """One routed expert: SwiGLU, Mixtral names w1 (gate) / w3 (up) / w2 (down)."""

    def __init__(self, H, I, mixtral):
        super().__init__()
        self.names = ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj")
        for n, shape in zip(self.names, ((H, I), (H, I), (I, H))):
            setattr(self, n, Linear(*shape, bias=False))

    def forward(self, x):
        g, u, d = (getattr(self, n) for n in self.names)
        act = nn.functional.silu(g(x).float()).to(x.dtype)
        return d(act * u(x))


class SparseMoeBlock(nn.Module):
    """transformers v4 MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock (eager loop): softmax over
    all experts in fp32, top-k, optional renormalisation, weights cast to the model dtype, experts
    in ascending id, index_add_ in the model dtype. Returns (hidden, router_logits) as v4 does."""

    def __init__(self, c, mixtral):
        super().__init__()
        H = c["hidden_size"]
        self.E = c["num_local_experts"] if mixtral else c["num_experts"]
        self.k = c["num_experts_per_tok"]
        I = c["intermediate_size"] if mixtral else c["moe_intermediate_size"]
        self.norm = True if mixtral else c.get("norm_topk_prob", False)
        self.gate = Linear(H, self.E, bias=False)
        self.experts = nn.ModuleList(ExpertMLP(H, I, mixtral) for _ in range(self.E))
        self.record = None  # callable(down projection's input rows, token indices, expert id)
        self.record_weights = None  # callable(routing weights [T, k] as combined)

    def forward(self, x):
        logits = self.gate(x)
        idx, w = softmax_topk(logits, self.k, self.norm, x.dtype)
        if self.record_weights is not None:
            self.record_weights(w)
        out = torch.zeros_like(x)
        mask = nn.functional.one_hot(idx, num_classes=self.E).permute(2, 1, 0)
        for e in range(self.E):
            slot, tok = torch.where(mask[e])
            if tok.numel() == 0:
                continue
            expert = self.experts[e]
            if self.record is not None:
                h = expert.names[2]

                def pre(mod, inp, tok=tok, e=e):
                    self.record(inp[0], tok, e)
                handle = getattr(expert, h).register_forward_pre_hook(pre)
            y = expert(x[tok]) * w[tok, slot, None]
            if self.record is not None:
                handle.remove()
            out.index_add_(0, tok, y.to(x.dtype))
        return out, logits


class DecoderLayer(nn.Module):
    def __init__(self, c, mt, layer):
        super().__init__()
        norm_cls = norm_class(mt)
        H, eps = c["hidden_size"], c["rms_norm_eps"]
        self.sandwich = mt in GEMMA - {"gemma"}
        self.input_layernorm = norm_cls(H, eps)
        if mt in BAILING:
            import hf_bailing
            self.attention = hf_bailing.BailingAttention(c, mt == "bailing_moe_v2")
            self.attn_name = "attention"
        elif mt in HYBRID:
            import hf_qwen_hybrid
            if is_linear_attention_layer(c, layer):
                self.linear_attn = hf_qwen_hybrid.GatedDeltaNet(c, mt == "qwen3_next")
                self.attn_name = "linear_attn"
            else:
                self.self_attn = hf_qwen_hybrid.GatedAttention(c)
                self.attn_name = "self_attn"
        else:
            self.self_attn = Attention(c, mt, layer, norm_cls)
            self.attn_name = "self_attn"
        self.post_attention_layernorm = norm_cls(H, eps)
        if self.sandwich:
            self.pre_feedforward_layernorm = norm_cls(H, eps)
            self.post_feedforward_layernorm = norm_cls(H, eps)
        self.mixtral = mt == "mixtral"
        if self.mixtral:
            self.block_sparse_moe = SparseMoeBlock(c, True)
        elif mt == "qwen3_moe" and is_moe_layer(c, layer):
            self.mlp = SparseMoeBlock(c, False)
        elif mt == "gpt_oss":
            import hf_gpt_oss
            self.mlp = hf_gpt_oss.GptOssMLP(c)
        elif mt == "qwen3_next" and is_moe_layer(c, layer) or mt.startswith("qwen3_5_moe"):
            import hf_qwen_hybrid
            self.mlp = hf_qwen_hybrid.QwenMoeBlock(c, mt != "qwen3_next")
        elif mt in BAILING and c.get("num_experts") and layer >= c.get("first_k_dense_replace", 0):
            import hf_bailing
            self.mlp = hf_bailing.BailingMoeBlock(c, mt == "bailing_moe_v2")
        else:
            self.mlp = MLP(c, mt)
        self.rope = 0

    def forward(self, h, ropes):
        cos, sin = ropes[self.rope]
        a = getattr(self, self.attn_name)(self.input_layernorm(h), cos, sin)
        if isinstance(a, tuple):  # attention modules return (out, weights, ...)
            a = a[0]
        if self.sandwich:
            a = self.post_attention_layernorm(a)
        h = h + a
        mlp = self.block_sparse_moe if self.mixtral else self.mlp
        if self.sandwich:
            m = self.post_feedforward_layernorm(mlp(self.pre_feedforward_layernorm(h)))
        else:
            m = mlp(self.post_attention_layernorm(h))
        if isinstance(m, tuple):
            m = m[0]
        return h + m


class TextModel(nn.Module):
    def __init__(self, c, mt):
        super().__init__()
        self.c, self.mt = c, mt
        H = c["hidden_size"]
        self.embed_name = "word_embeddings" if mt in BAILING else "embed_tokens"
        if mt in GEMMA:
            self.embed_tokens = ScaledWordEmbedding(c["vocab_size"], H, H ** 0.5)
        else:
            setattr(self, self.embed_name, nn.Embedding(c["vocab_size"], H))
        self.layers = nn.ModuleList(DecoderLayer(c, mt, i) for i in range(c["num_hidden_layers"]))
        self.norm = norm_class(mt)(H, c["rms_norm_eps"])
        if mt in ("gemma3", "gemma3_text"):
            # The local table belongs to sliding-attention layers by type, whatever the window.
            types = c.get("layer_types")
            for i, layer in enumerate(self.layers):
                sliding = (types[i] == "sliding_attention" if types
                           else (i + 1) % c.get("sliding_window_pattern", 6) != 0)
                layer.rope = 1 if sliding else 0

    def rope_tables(self, T, dtype):
        tables = [None]
        if self.mt in ("gemma3", "gemma3_text"):
            tables = [0, 1]
        out = []
        for t in tables:
            inv, att = rope_reference.compute(self.c, T, t)
            out.append(rope_cos_sin(torch.tensor(inv, dtype=torch.float32), att, T, dtype))
        return out

    def forward(self, ids):
        h = getattr(self, self.embed_name)(ids)
        ropes = self.rope_tables(ids.shape[0], h.dtype)
        for layer in self.layers:
            h = layer(h, ropes)
        return self.norm(h)


class ForCausalLM(nn.Module):
    def __init__(self, c, mt, wrapped):
        super().__init__()
        self.model = nn.Module()
        inner = TextModel(c, mt)
        if wrapped:  # hook-visible path model.language_model.* (transformers >= 4.52)
            self.model.language_model = inner
        else:
            self.model = inner
        self.text = inner
        self.lm_head = Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        return self.lm_head(self.text(ids))


def canonical(name):
    for a, b in (("model.language_model.", "model."), ("language_model.model.", "model."),
                 ("language_model.lm_head.", "lm_head.")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


def load(folder, dtype=torch.float32):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    c = text_config(cfg)
    mt = c["model_type"]
    if mt not in DENSE:
        raise ValueError(f"the dense reference does not cover {mt}")
    raw = load_safetensors(folder)
    # transformers >= 4.52 puts the language model of *ForConditionalGeneration classes under
    # model.language_model, whatever the file's names.
    wrapped = (cfg.get("architectures") or [""])[0].endswith("ForConditionalGeneration")
    w = {}
    for k in [k for k in raw if k.endswith("_blocks")]:  # gpt-oss MXFP4 experts
        import hf_gpt_oss
        w[canonical(k[:-len("_blocks")])] = hf_gpt_oss.mxfp4_to_float(
            raw[k], raw[k[:-len("_blocks")] + "_scales"])
    for k, v in raw.items():
        if k.endswith(("_scale_inv", "_blocks", "_scales")):
            continue
        if k + "_scale_inv" in raw:  # FP8 block weights: dequantize (docs/NUMERICS.md §9)
            s = raw[k + "_scale_inv"]
            bo = -(-v.shape[0] // s.shape[0])
            bi = -(-v.shape[1] // s.shape[1])
            v = v * s.repeat_interleave(bo, 0)[:v.shape[0]].repeat_interleave(bi, 1)[:, :v.shape[1]]
        n = canonical(k)
        if n.startswith("model.layers.") and int(n.split(".")[2]) >= c["num_hidden_layers"]:
            continue  # Ling 2.0's multi-token-prediction layers, stored after the stack
        if n.startswith(("model.", "lm_head.")) and not n.startswith("model.visual"):
            w[n] = v
    m = ForCausalLM(c, mt, wrapped)
    if "lm_head.weight" not in w:  # tied: docs/NUMERICS.md §10
        w["lm_head.weight"] = w[f"model.{m.text.embed_name}.weight"]
    state = {("text." + k[len("model."):] if k.startswith("model.") else k): v for k, v in w.items()}
    missing, unexpected = m.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("model.")]
    if missing or unexpected:
        raise ValueError(f"missing {missing}, unexpected {unexpected}")
    m = m.to(dtype).eval()
    for name, mod in m.text.named_modules():  # gpt-oss: _keep_in_fp32_modules
        if isinstance(mod, GptOssRMSNorm):
            mod.weight.data = state["text." + name + ".weight"].float().clone()
    m.mt, m.config = mt, c
    m.prefix = "model.language_model" if wrapped else "model"
    return m
