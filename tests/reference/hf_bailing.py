"""Ling modules of the reference (bailing_moe v1, bailing_moe_v2), written from the hub modeling
files (inclusionAI/Ling models/modeling_bailing_moe.py, inclusionAI/Ling-V2
models/modeling_bailing_moe_v2.py; docs/NUMERICS.md §6, §7) with their module names:
`attention.query_key_value` (q | k | v heads), `attention.dense`, N1 norms (v2's query_layernorm /
key_layernorm too), v1 scaling q before q kᵀ and v2 dividing the product; the MoE block `mlp`
with `gate`, `experts.{e}` and `shared_experts`: v1 softmax top-k (renormalised iff
norm_topk_prob and k > 1), v2 an fp32 sigmoid router with expert bias, group-limited top-k and
routed_scaling_factor; both combine as moe_infer does (expert outputs in the model dtype times
fp32 weights, summed over the k slots in fp32, one rounding) and add the shared expert in the
model dtype.
"""
import math

import torch
from torch import nn

from hf_dense import (ExpertMLP, Linear, LlamaRMSNorm, causal_mask, matmul, rope_and_repeat,
                      scalar_op, softmax_topk)


class BailingAttention(nn.Module):
    def __init__(self, c, v2):
        super().__init__()
        H = c["hidden_size"]
        self.nh, self.nkv = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
        self.hd = c.get("head_dim") or H // self.nh
        self.v2 = v2
        self.query_key_value = Linear(H, (self.nh + 2 * self.nkv) * self.hd,
                                      bias=c.get("use_qkv_bias", False))
        self.dense = Linear(self.nh * self.hd, H, bias=c.get("use_bias", not v2))
        if v2 and c.get("use_qk_norm", True):
            self.query_layernorm = LlamaRMSNorm(self.hd, c["rms_norm_eps"])
            self.key_layernorm = LlamaRMSNorm(self.hd, c["rms_norm_eps"])
        self.window = None
        self.cache = None

    def forward(self, x, cos, sin):
        T = x.shape[0]
        qkv = self.query_key_value(x).view(T, self.nh + 2 * self.nkv, self.hd)
        q, k, v = qkv.split([self.nh, self.nkv, self.nkv], dim=1)
        if hasattr(self, "query_layernorm"):
            q, k = self.query_layernorm(q), self.key_layernorm(k)
        q, k, v = rope_and_repeat(self, q, k, v, cos, sin)
        root = math.sqrt(self.hd)
        if self.v2:
            w = scalar_op(matmul(q, k.transpose(1, 2)), lambda t: t / root)
        else:
            w = matmul(scalar_op(q, lambda t: t / root), k.transpose(1, 2))
        w = w + causal_mask(T, None, w.dtype)
        p = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = matmul(p, v).transpose(0, 1).reshape(T, self.nh * self.hd)
        return self.dense(o), None, None


def top_lower_first(scores, k):
    """Indices of the k largest along the last dim, ties to the lower index (CUDA's observed
    topk order; CPU topk promises none)."""
    return torch.sort(-scores, dim=-1, stable=True).indices[..., :k]


class BailingGate(nn.Module):
    def __init__(self, c, v2):
        super().__init__()
        self.v2 = v2
        self.k = c["num_experts_per_tok"]
        self.E = c["num_experts"]
        self.weight = nn.Parameter(torch.zeros(self.E, c["hidden_size"]))
        if v2:
            self.expert_bias = nn.Parameter(torch.zeros(self.E))
            self.n_group, self.topk_group = c["n_group"], c["topk_group"]
            self.scaling = c.get("routed_scaling_factor", 2.5)
        else:
            self.norm = c.get("norm_topk_prob", True) and self.k > 1
        self.record_logits = None

    def forward(self, x):
        if self.v2:
            logits = nn.functional.linear(x.float(), self.weight.float())
        elif x.dtype == torch.float32:
            logits = nn.functional.linear(x, self.weight)
        else:
            logits = nn.functional.linear(x.float(), self.weight.float()).to(x.dtype)
        if self.record_logits is not None:
            self.record_logits(logits)
        if not self.v2:  # weights stay fp32
            idx, w = softmax_topk(logits, self.k, self.norm)
            return idx, w, logits
        scores = torch.sigmoid(logits)
        biased = scores + self.expert_bias.float()
        T = x.shape[0]
        groups = biased.view(T, self.n_group, -1)
        group_scores = groups.gather(-1, top_lower_first(groups, 2)).sum(dim=-1)
        keep = torch.zeros_like(group_scores).scatter_(1, top_lower_first(group_scores, self.topk_group), 1)
        keep = keep.unsqueeze(-1).expand(T, self.n_group, self.E // self.n_group).reshape(T, -1)
        idx = top_lower_first(biased.masked_fill(~keep.bool(), float("-inf")), self.k)
        w = scores.gather(-1, idx)
        if self.k > 1:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        return idx, w * self.scaling, logits


class BailingMoeBlock(nn.Module):
    def __init__(self, c, v2):
        super().__init__()
        H, I = c["hidden_size"], c["moe_intermediate_size"]
        self.gate = BailingGate(c, v2)
        self.experts = nn.ModuleList(ExpertMLP(H, I, False) for _ in range(c["num_experts"]))
        shared = c.get("num_shared_experts") or 0
        self.shared_experts = ExpertMLP(H, I * shared, False) if shared > 0 else None
        self.record = None  # callable(down projection's input rows, token indices, expert id)
        self.record_weights = None  # callable(routing weights [T, k] as combined)

    def forward(self, x):
        idx, w, logits = self.gate(x)
        if self.record_weights is not None:
            self.record_weights(w)
        T, H = x.shape
        k = idx.shape[1]
        outs = torch.zeros(T, k, H, dtype=x.dtype)
        for e in range(len(self.experts)):
            tok, slot = torch.where(idx == e)
            if tok.numel() == 0:
                continue
            expert = self.experts[e]
            handle = None
            if self.record is not None:  # torch.where gives the tokens in ascending order
                def pre(mod, inp, tok=tok, e=e):
                    self.record(inp[0], tok, e)
                handle = expert.down_proj.register_forward_pre_hook(pre)
            outs[tok, slot] = expert(x[tok])
            if handle is not None:
                handle.remove()
        y = (outs.float() * w.float().unsqueeze(-1)).sum(dim=1).to(x.dtype)
        if self.shared_experts is not None:
            y = y + self.shared_experts(x)
        return y, (logits, idx)
