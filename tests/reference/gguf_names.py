"""The GGUF weight names llama.cpp's converter (convert_hf_to_gguf.py / conversion/*.py with gguf-py's
tensor map, llama.cpp master 1425386f) gives the Linear layers of a decoder layer, written here
independently of maxact's table (src/model/gguf_names.cpp) so the imatrix test checks one against
the other. Keys: the Hugging Face module path relative to the decoder layer; experts are
"<moe>.experts" (every routed expert, one 3-D GGUF tensor per projection).
"""

ATTN = {"self_attn.q_proj": ["attn_q"], "self_attn.k_proj": ["attn_k"],
        "self_attn.v_proj": ["attn_v"], "self_attn.o_proj": ["attn_output"]}
MLP = {"mlp.gate_proj": ["ffn_gate"], "mlp.up_proj": ["ffn_up"], "mlp.down_proj": ["ffn_down"]}
QWEN_MOE = {"mlp.gate": ["ffn_gate_inp"], "mlp.shared_expert.gate_proj": ["ffn_gate_shexp"],
            "mlp.shared_expert.up_proj": ["ffn_up_shexp"],
            "mlp.shared_expert.down_proj": ["ffn_down_shexp"],
            "mlp.shared_expert_gate": ["ffn_gate_inp_shexp"]}
LING_MOE = {"mlp.gate": ["ffn_gate_inp"], "mlp.shared_experts.gate_proj": ["ffn_gate_shexp"],
            "mlp.shared_experts.up_proj": ["ffn_up_shexp"],
            "mlp.shared_experts.down_proj": ["ffn_down_shexp"]}
LING_ATTN = {"attention.dense": ["attn_output"]}
GDN_NEXT = {"linear_attn.in_proj_qkvz": ["attn_qkv", "attn_gate"],  # split: q|k|v and z
            "linear_attn.in_proj_ba": ["ssm_ba"], "linear_attn.out_proj": ["ssm_out"]}
GDN_35 = {"linear_attn.in_proj_qkv": ["attn_qkv"], "linear_attn.in_proj_z": ["attn_gate"],
          "linear_attn.in_proj_b": ["ssm_beta"], "linear_attn.in_proj_a": ["ssm_alpha"],
          "linear_attn.out_proj": ["ssm_out"]}

TABLES = {
    "llama": [ATTN, MLP], "mistral": [ATTN, MLP], "qwen2": [ATTN, MLP], "qwen2_5_vl": [ATTN, MLP],
    "qwen3": [ATTN, MLP], "gemma": [ATTN, MLP], "gemma2": [ATTN, MLP], "gemma3": [ATTN, MLP],
    "mixtral": [ATTN, {"block_sparse_moe.gate": ["ffn_gate_inp"]}],
    "qwen3_moe": [ATTN, MLP, QWEN_MOE],
    "phi3": [{"self_attn.qkv_proj": ["attn_qkv"], "self_attn.o_proj": ["attn_output"],
              "mlp.gate_up_proj": ["ffn_up"], "mlp.down_proj": ["ffn_down"]}],
    "gpt_oss": [ATTN, {"mlp.router": ["ffn_gate_inp"]}],
    # Ling v1 splits query_key_value into q / k / v; Ling 2.0 keeps it fused.
    "bailing_moe": [LING_ATTN, MLP, LING_MOE,
                    {"attention.query_key_value": ["attn_q", "attn_k", "attn_v"]}],
    "bailing_moe_v2": [LING_ATTN, MLP, LING_MOE, {"attention.query_key_value": ["attn_qkv"]}],
    "qwen3_next": [ATTN, MLP, QWEN_MOE, GDN_NEXT],
    "qwen3_5": [ATTN, MLP, GDN_35], "qwen3_5_moe": [ATTN, MLP, QWEN_MOE, GDN_35],
}
# Routed experts: gate and up become two 3-D tensors (gpt-oss's interleaved gate_up de-interleaved,
# Qwen3.5's fused halves split), down one.
EXPERTS_IN = ["ffn_gate_exps", "ffn_up_exps"]
EXPERTS_DOWN = ["ffn_down_exps"]


def family(config):
    mt = config.get("text_config", config).get("model_type", "")
    return mt[: -len("_text")] if mt.endswith("_text") else mt


def linear_names(config, rel):
    """GGUF names (without blk.L. and .weight) of the Linear at `rel`, or None if not a Linear."""
    for table in TABLES[family(config)]:
        if rel in table:
            return table[rel]
    return None


def v_head_order(config):
    """Qwen3.5's converter reorders out_proj's input channels when key and value head counts
    differ (_LinearAttentionVReorderBase): HF channel (g*R + r)*D + d goes to (r*K + g)*D + d."""
    c = config.get("text_config", config)
    if family(config) not in ("qwen3_5", "qwen3_5_moe"):
        return None
    K, V, D = c["linear_num_key_heads"], c["linear_num_value_heads"], c["linear_value_head_dim"]
    if K == V:
        return None
    R = V // K
    order = [0] * (V * D)  # order[gguf index] = hf index
    for g in range(K):
        for r in range(R):
            for d in range(D):
                order[(r * K + g) * D + d] = (g * R + r) * D + d
    return order
