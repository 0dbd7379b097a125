"""Qwen3-Next / Qwen3.5 / Qwen3.5-MoE modules of the reference, written from transformers'
models/qwen3_next and models/qwen3_5(_moe) (docs/NUMERICS.md §6, §8) with their module names:

* `self_attn`: gated full attention — q_proj returns [q_h | gate_h] per head, N2 q/k norms,
  partial RoPE, eager attention, O · σ(gate), o_proj;
* `linear_attn`: Gated DeltaNet — in_proj_qkvz / in_proj_ba (Next, grouped per key head) or
  in_proj_qkv / z / b / a (3.5), causal depthwise conv1d + SiLU, β = σ(b),
  g = −exp(A_log)·softplus(a + dt_bias), l2-normalised q/k (fp32, q scaled by dk^-0.5), and the
  delta rule in its per-token recurrent form (HF's torch_recurrent_gated_delta_rule; maxact runs
  the chunked form, so this comparison also checks one against the other), gated RMSNorm,
  out_proj;
* `mlp`: softmax top-k router `gate`, experts per expert (Next) or fused `gate_up_proj` [E, 2I, H]
  / `down_proj` [E, H, I] (3.5-MoE), HF's loop combine in the model dtype, and the shared expert
  `shared_expert` scaled by σ(`shared_expert_gate`).
"""
import torch
from torch import nn

from hf_dense import (ExpertMLP, GemmaRMSNorm, Linear, LlamaRMSNorm, causal_mask, matmul,
                      rope_and_repeat, scalar_op, softmax_topk)

CHUNK = 64  # maxact reports the recurrent state after every 64 tokens (and the last)


def silu_f32(x):
    return nn.functional.silu(x.float()).to(x.dtype)


class GatedAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        bias = c.get("attention_bias", False)
        self.gated = c.get("attn_output_gate", True)
        self.q_proj = Linear(H, self.nh * self.hd * (2 if self.gated else 1), bias=bias)
        self.k_proj = Linear(H, self.nkv * self.hd, bias=bias)
        self.v_proj = Linear(H, self.nkv * self.hd, bias=bias)
        self.o_proj = Linear(self.nh * self.hd, H, bias=bias)
        self.q_norm = GemmaRMSNorm(self.hd, c["rms_norm_eps"])
        self.k_norm = GemmaRMSNorm(self.hd, c["rms_norm_eps"])
        self.window = None
        self.cache = None

    def forward(self, x, cos, sin):
        T = x.shape[0]
        if self.gated:
            q, gate = self.q_proj(x).view(T, self.nh, 2 * self.hd).chunk(2, dim=-1)
            gate = gate.reshape(T, self.nh * self.hd)
        else:
            q = self.q_proj(x).view(T, self.nh, self.hd)
        q = self.q_norm(q)
        k = self.k_norm(self.k_proj(x).view(T, self.nkv, self.hd))
        v = self.v_proj(x).view(T, self.nkv, self.hd)
        q, k, v = rope_and_repeat(self, q, k, v, cos, sin)
        w = scalar_op(matmul(q, k.transpose(1, 2)), lambda t: t * self.hd ** -0.5)
        w = w + causal_mask(T, None, w.dtype)
        p = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = matmul(p, v).transpose(0, 1).reshape(T, self.nh * self.hd)
        if self.gated:
            o = o * scalar_op(gate, torch.sigmoid)
        return self.o_proj(o), None


class GatedRMSNorm(nn.Module):
    """N4: D(w ⊙ D(x r)) then times silu(z) in fp32, rounded once more."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, x, z):
        t = LlamaRMSNorm.forward(self, x)
        return (t.float() * nn.functional.silu(z.float())).to(x.dtype)


class GatedDeltaNet(nn.Module):
    def __init__(self, c, fused):
        super().__init__()
        H = c["hidden_size"]
        self.Hk, self.Hv = c["linear_num_key_heads"], c["linear_num_value_heads"]
        self.dk, self.dv = c["linear_key_head_dim"], c["linear_value_head_dim"]
        self.K = c["linear_conv_kernel_dim"]
        self.fused = fused
        kd, vd = self.Hk * self.dk, self.Hv * self.dv
        self.conv_dim = 2 * kd + vd
        if fused:
            self.in_proj_qkvz = Linear(H, 2 * kd + 2 * vd, bias=False)
            self.in_proj_ba = Linear(H, 2 * self.Hv, bias=False)
        else:
            self.in_proj_qkv = Linear(H, self.conv_dim, bias=False)
            self.in_proj_z = Linear(H, vd, bias=False)
            self.in_proj_b = Linear(H, self.Hv, bias=False)
            self.in_proj_a = Linear(H, self.Hv, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, self.K, groups=self.conv_dim,
                                padding=self.K - 1, bias=False)
        self.dt_bias = nn.Parameter(torch.ones(self.Hv))
        self.A_log = nn.Parameter(torch.zeros(self.Hv))
        self.norm = GatedRMSNorm(self.dv, c["rms_norm_eps"])
        self.out_proj = Linear(vd, H, bias=False)
        self.record_conv = None   # callable(conv output after SiLU [T, conv_dim])
        self.record_state = None  # callable(max |S| per value head [n, Hv], token positions)
        self.cache = None

    def split(self, x):
        T = x.shape[0]
        r = self.Hv // self.Hk
        if not self.fused:
            return self.in_proj_qkv(x), self.in_proj_z(x), self.in_proj_b(x), self.in_proj_a(x)
        # Qwen3-Next's fix_query_key_value_ordering: everything grouped per key head.
        qkvz = self.in_proj_qkvz(x).view(T, self.Hk, 2 * self.dk + 2 * r * self.dv)
        ba = self.in_proj_ba(x).view(T, self.Hk, 2 * r)
        q, k, v, z = torch.split(qkvz, [self.dk, self.dk, r * self.dv, r * self.dv], dim=2)
        b, a = torch.split(ba, [r, r], dim=2)
        mixed = torch.cat([q.reshape(T, -1), k.reshape(T, -1), v.reshape(T, -1)], dim=-1)
        return mixed, z.reshape(T, -1), b.reshape(T, -1), a.reshape(T, -1)

    def forward(self, x, cos=None, sin=None):
        T = x.shape[0]
        mixed, z, b, a = self.split(x)
        y = nn.functional.conv1d(mixed.float().t()[None], self.conv1d.weight.float(),
                                 groups=self.conv_dim, padding=self.K - 1)[0, :, :T]
        y = silu_f32(y.t().to(x.dtype))
        if self.record_conv is not None:
            self.record_conv(y)
        kd = self.Hk * self.dk
        r = self.Hv // self.Hk
        q = y[:, :kd].reshape(T, self.Hk, self.dk).float()
        k = y[:, kd:2 * kd].reshape(T, self.Hk, self.dk).float()
        v = y[:, 2 * kd:].reshape(T, self.Hv, self.dv).float()
        beta = scalar_op(b, torch.sigmoid).float()
        g = -self.A_log.float().exp() * nn.functional.softplus(a.float() + self.dt_bias.float())
        q = q * torch.rsqrt((q * q).sum(-1, keepdim=True) + 1e-6) * self.dk ** -0.5
        k = k * torch.rsqrt((k * k).sum(-1, keepdim=True) + 1e-6)
        q = q.repeat_interleave(r, dim=1)
        k = k.repeat_interleave(r, dim=1)
        S = torch.zeros(self.Hv, self.dk, self.dv)
        o = torch.zeros(T, self.Hv, self.dv)
        states, positions = [], []
        for t in range(T):
            S = S * g[t].exp()[:, None, None]
            delta = (v[t] - (S * k[t][:, :, None]).sum(-2)) * beta[t][:, None]
            S = S + k[t][:, :, None] * delta[:, None, :]
            o[t] = (S * q[t][:, :, None]).sum(-2)
            if (t + 1) % CHUNK == 0 or t == T - 1:
                states.append(S.abs().amax(dim=(1, 2)))
                positions.append(t)
        if self.record_state is not None:
            self.record_state(torch.stack(states), positions)
        o = o.to(x.dtype)
        out = self.norm(o, z.reshape(T, self.Hv, self.dv)).reshape(T, -1)
        return self.out_proj(out)


class FusedExperts(nn.Module):
    """Qwen3.5-MoE: gate_up_proj [E, 2I, H] (rows gate | up), down_proj [E, H, I]."""

    def __init__(self, E, H, I):
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.zeros(E, 2 * I, H))
        self.down_proj = nn.Parameter(torch.zeros(E, H, I))

    def expert(self, e, x, record=None):
        gate, up = matmul(x, self.gate_up_proj[e].t()).chunk(2, dim=-1)
        act = silu_f32(gate) * up
        if record is not None:
            record(act)
        return matmul(act, self.down_proj[e].t())


class QwenMoeBlock(nn.Module):
    """Router `gate` (softmax in fp32, top-k with ties to the lower id, renormalised, weights in
    the model dtype), experts in ascending id with index_add_ in the model dtype, plus
    σ(shared_expert_gate(x)) · shared_expert(x)."""

    def __init__(self, c, fused):
        super().__init__()
        H, E, I = c["hidden_size"], c["num_experts"], c["moe_intermediate_size"]
        self.E, self.k = E, c["num_experts_per_tok"]
        self.norm = True if fused else c.get("norm_topk_prob", True)
        self.gate = Linear(H, E, bias=False)
        self.fused = fused
        self.experts = FusedExperts(E, H, I) if fused else nn.ModuleList(
            ExpertMLP(H, I, False) for _ in range(E))
        SI = c.get("shared_expert_intermediate_size", 0)
        if SI:
            self.shared_expert = ExpertMLP(H, SI, False)
            self.shared_expert_gate = Linear(H, 1, bias=False)
        self.record = None
        self.record_weights = None

    def forward(self, x):
        logits = self.gate(x)
        idx, w = softmax_topk(logits, self.k, self.norm, x.dtype)
        if self.record_weights is not None:
            self.record_weights(w)
        out = torch.zeros_like(x)
        for e in range(self.E):
            tok, slot = torch.where(idx == e)
            if tok.numel() == 0:
                continue
            rec = None if self.record is None else (lambda a, tok=tok, e=e: self.record(a, tok, e))
            if self.fused:
                y = self.experts.expert(e, x[tok], rec)
            else:
                expert = self.experts[e]
                handle = None
                if rec is not None:
                    handle = expert.down_proj.register_forward_pre_hook(
                        lambda mod, inp, rec=rec: rec(inp[0]))
                y = expert(x[tok])
                if handle is not None:
                    handle.remove()
            out.index_add_(0, tok, (y * w[tok, slot, None]).to(x.dtype))
        if hasattr(self, "shared_expert"):
            s = self.shared_expert(x)
            out = out + scalar_op(self.shared_expert_gate(x), torch.sigmoid) * s
        return out, logits
