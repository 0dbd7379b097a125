// One adapter per Hugging Face model_type: config.json -> ModelSpec (dimensions, per-layer kinds,
// RoPE, MoE routing, and the tensor table). Semantics: the Hugging Face modeling
// code of each family; where sources disagree, docs/DECISIONS.md.
#pragma once

#include "maxact/model_spec.h"
#include "model/config_reader.h"

namespace maxact::families {

ModelSpec llama(const ConfigReader& c);
ModelSpec mistral(const ConfigReader& c);
ModelSpec mixtral(const ConfigReader& c);
ModelSpec qwen2(const ConfigReader& c);
ModelSpec qwen2_5_vl(const ConfigReader& c);
ModelSpec qwen3(const ConfigReader& c);
ModelSpec qwen3_moe(const ConfigReader& c);
ModelSpec qwen3_next(const ConfigReader& c);
ModelSpec qwen3_5(const ConfigReader& c);
ModelSpec qwen3_5_moe(const ConfigReader& c);
ModelSpec gemma(const ConfigReader& c);
ModelSpec gemma2(const ConfigReader& c);
ModelSpec gemma3(const ConfigReader& c);
ModelSpec gpt_oss(const ConfigReader& c);
ModelSpec phi3(const ConfigReader& c);
ModelSpec bailing_moe(const ConfigReader& c);
ModelSpec bailing_moe_v2(const ConfigReader& c);

}  // namespace maxact::families
