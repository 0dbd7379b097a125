"""The zoo's three tiny models: Hugging Face configs and their random initialisation.

Same vocabulary (the zoo tokenizer, 4096), hidden size 192, 6 layers, 6 query heads of 32 (2 KV
heads), tied embeddings; the dense MLPs are 512 wide and the MoE's top-2 experts are 256 wide each,
so all three spend the same parameters per token outside attention.

* llama-tiny: Llama (RMSNorm, SwiGLU, RoPE θ = 10000, full attention).
* gemma3-tiny: Gemma 3 (sandwich norms with (1 + w), q/k norms, √H-scaled embeddings, GELU-tanh,
  5 sliding-window layers of 128 tokens then 1 global, local/global RoPE bases).
* qwen3-moe-tiny: Qwen3-MoE (q/k norms, 8 experts top-2 with renormalised softmax weights, every
  layer sparse).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "reference"))
import hf_dense  # noqa: E402

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 4096, 192, 6, 6, 2, 32
DENSE_I, EXPERTS, TOP_K, EXPERT_I = 512, 8, 2, 256
BOS, EOS, PAD = 1, 2, 0
INIT_STD = 0.02


def _common(model_type, arch, **extra):
    c = {"architectures": [arch], "model_type": model_type, "vocab_size": VOCAB,
         "hidden_size": HIDDEN, "intermediate_size": DENSE_I, "num_hidden_layers": LAYERS,
         "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
         "rms_norm_eps": 1e-6, "max_position_embeddings": 512, "initializer_range": INIT_STD,
         "tie_word_embeddings": True, "bos_token_id": BOS, "eos_token_id": EOS,
         "pad_token_id": PAD, "attention_dropout": 0.0, "use_cache": True,
         "torch_dtype": "bfloat16", "transformers_version": "4.57.1"}
    c.update(extra)
    return c


CONFIGS = {
    "llama-tiny": _common("llama", "LlamaForCausalLM", hidden_act="silu", rope_theta=10000.0,
                          rope_scaling=None, attention_bias=False, mlp_bias=False,
                          pretraining_tp=1),
    "gemma3-tiny": _common("gemma3_text", "Gemma3ForCausalLM", hidden_activation="gelu_pytorch_tanh",
                           query_pre_attn_scalar=HEAD_DIM, sliding_window=128,
                           layer_types=["sliding_attention"] * 5 + ["full_attention"],
                           rope_theta=1000000.0, rope_local_base_freq=10000.0,
                           rope_scaling=None, attention_bias=False,
                           attn_logit_softcapping=None, final_logit_softcapping=None),
    "qwen3-moe-tiny": _common("qwen3_moe", "Qwen3MoeForCausalLM", hidden_act="silu",
                              rope_theta=1000000.0, rope_scaling=None, attention_bias=False,
                              use_sliding_window=False, sliding_window=None,
                              num_experts=EXPERTS, num_experts_per_tok=TOP_K,
                              moe_intermediate_size=EXPERT_I, norm_topk_prob=True,
                              decoder_sparse_step=1, mlp_only_layers=[],
                              output_router_logits=False, router_aux_loss_coef=0.01),
}


def build(name, seed):
    """The reference model of `name` with the initialisation Hugging Face's _init_weights gives
    (normal(0, initializer_range) for linear and embedding weights; norms as constructed: ones,
    or zeros for Gemma's 1 + w), drawn from torch's generator seeded with `seed`, in parameter order.
    The head is tied to the embedding."""
    c = CONFIGS[name]
    m = hf_dense.ForCausalLM(c, c["model_type"], False)
    m.lm_head.weight = m.text.embed_tokens.weight
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * INIT_STD)
    m.mt, m.config, m.prefix = c["model_type"], c, "model"
    return m


def hf_state(m):
    """Hugging Face tensor names -> tensors (the tied head is not stored)."""
    return {"model." + k[len("text."):]: v for k, v in m.state_dict().items() if k.startswith("text.")}


def active_params(name):
    m = build(name, 0)
    total = sum(v.numel() for v in hf_state(m).values())
    routed = sum(v.numel() for k, v in hf_state(m).items() if ".experts." in k)
    active = total - routed + routed // EXPERTS * TOP_K if routed else total
    return total, active
