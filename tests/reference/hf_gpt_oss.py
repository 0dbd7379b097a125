"""gpt-oss modules of the reference, written from transformers' models/gpt_oss (v4.55) and
integrations/mxfp4.py (docs/NUMERICS.md §4, §6, §7, §9): the `mlp` block with its `router` (Linear
with bias, top-k of the logits, softmax over the k) and `experts` (parameters [E, in, out], biases
as separate ops, interleaved gate/up, clamped SwiGLU, the inference path's fp32 sum over experts),
and the MXFP4 decoding of HF's convert_moe_packed_tensors.
"""
import torch
from torch import nn

from hf_dense import matmul, scalar_op


FP4_VALUES = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def mxfp4_to_float(blocks, scales):
    """gpt-oss MXFP4 experts (docs/NUMERICS.md §9, HF convert_moe_packed_tensors): blocks
    [E, rows, G, 16] bytes, scales [E, rows, G]; byte j of group g holds elements 32g+2j (low
    nibble) and 32g+2j+1 (high nibble), times 2^(scale-127). Returns HF's parameter layout
    [E, in, out] (the dequantized [E, out, in] transposed)."""
    lut = torch.tensor(FP4_VALUES, dtype=torch.float32)
    b = blocks.long()
    vals = torch.stack((lut[b & 0xF], lut[b >> 4]), dim=-1).reshape(*blocks.shape[:-1], 32)
    vals = torch.ldexp(vals, scales.long()[..., None] - 127)
    E, rows, G = scales.shape
    return vals.reshape(E, rows, G * 32).transpose(1, 2).contiguous()


class GptOssTopKRouter(nn.Module):
    """Logits = Linear(x) with bias (one rounding); top-k of the logits (ties to the lower id, as
    CUDA's topk does in practice); softmax over the k kept logits, fp32 inside, rounded."""

    def __init__(self, c):
        super().__init__()
        self.k = c["num_experts_per_tok"]
        E, H = c["num_local_experts"], c["hidden_size"]
        self.weight = nn.Parameter(torch.zeros(E, H))
        self.bias = nn.Parameter(torch.zeros(E))
        self.record_logits = None

    def forward(self, x):
        if x.dtype == torch.float32:
            logits = nn.functional.linear(x, self.weight, self.bias)
        else:
            logits = nn.functional.linear(x.float(), self.weight.float(),
                                          self.bias.float()).to(x.dtype)
        if self.record_logits is not None:
            self.record_logits(logits)
        idx = torch.sort(-logits.float(), dim=-1, stable=True).indices[:, :self.k]
        top = torch.softmax(logits.gather(-1, idx), dim=1, dtype=torch.float32).to(x.dtype)
        scores = torch.zeros_like(logits).scatter_(1, idx, top)
        return scores, idx, top


class GptOssExperts(nn.Module):
    """transformers v4.55 GptOssExperts, inference path (combine C3): every expert on every token,
    parameters [E, in, out], biases as separate ops, gate/up interleaved, clamped SwiGLU, outputs
    weighted by the dense routing scores and summed over experts in fp32 with one rounding."""

    def __init__(self, c):
        super().__init__()
        E, H, I = c["num_local_experts"], c["hidden_size"], c["intermediate_size"]
        self.gate_up_proj = nn.Parameter(torch.zeros(E, H, 2 * I))
        self.gate_up_proj_bias = nn.Parameter(torch.zeros(E, 2 * I))
        self.down_proj = nn.Parameter(torch.zeros(E, I, H))
        self.down_proj_bias = nn.Parameter(torch.zeros(E, H))
        self.alpha = 1.702
        self.limit = c.get("swiglu_limit", 7.0)
        self.record = None  # callable(down projection's input rows, token indices, expert id)

    def forward(self, x, idx, scores):
        T, H = x.shape
        E = scores.shape[1]
        xs = x.repeat(E, 1).view(E, T, H)
        gu = matmul(xs, self.gate_up_proj) + self.gate_up_proj_bias[:, None, :]
        gate, up = gu[..., ::2], gu[..., 1::2]
        gate = gate.clamp(min=None, max=self.limit)
        up = up.clamp(min=-self.limit, max=self.limit)
        glu = gate * scalar_op(scalar_op(gate, lambda t: t * self.alpha), torch.sigmoid)
        act = scalar_op(up, lambda t: t + 1) * glu
        if self.record is not None:
            for e in range(E):
                tok = torch.nonzero((idx == e).any(dim=-1)).flatten()
                if tok.numel():
                    self.record(act[e, tok], tok, e)
        y = matmul(act, self.down_proj) + self.down_proj_bias[:, None, :]
        y = y * scores.transpose(0, 1)[..., None]
        return y.float().sum(dim=0).to(x.dtype)


class GptOssMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.router = GptOssTopKRouter(c)
        self.experts = GptOssExperts(c)
        self.record_weights = None  # callable(routing weights [T, k] in top-k order)

    def forward(self, x):
        scores, idx, top = self.router(x)
        if self.record_weights is not None:
            self.record_weights(top)
        return self.experts(x, idx, scores), scores
