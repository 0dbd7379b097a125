#!/usr/bin/env python3
"""Trains the zoo's tiny models on the training part of the built-in corpus, on the CPU, with the
PyTorch reference modules (tests/reference/hf_dense.py), and writes each as a Hugging Face
checkpoint: zoo/<name>/{config.json, model.safetensors (bf16), tokenizer.json,
tokenizer_config.json, generation_config.json, README.md, training_log.json}.

  scripts/zoo/train_models.py [--models llama-tiny,gemma3-tiny,qwen3-moe-tiny] [--tokens N]
                              [--threads N]

Every model sees the same token stream: the training samples tokenized with the zoo tokenizer
(<|bos|> first), cut into pieces of at most 512 tokens (each piece starting with <|bos|>),
shuffled with a fixed seed, 8 pieces per optimizer step, repeated for whole epochs until the
token budget is spent. AdamW (0.9, 0.95), peak learning rate 3e-3 after 20 warm-up steps, cosine
decay to 10 %, weight decay 0.1 on matrices, gradient clipping at 1.0, fp32 throughout; the saved
weights are the fp32 weights rounded to bf16. The MoE adds the Switch/Qwen load-balancing loss
(coefficient 0.01). Seeds are fixed; given the same torch build the run is reproducible.

On 2 cores of an AMD EPYC VM (torch 1.13, 2 threads) the committed models took 14–19 minutes
each (llama-tiny 17.1, gemma3-tiny 14.3, qwen3-moe-tiny 19.2; the machine was shared with other
work during llama-tiny's run): 560–760 training tokens/s with the reference's eager modules.
"""
import argparse
import json
import math
import os
import platform
import random
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import models  # noqa: E402
import zoo_data  # noqa: E402

sys.path.insert(0, os.path.join(zoo_data.ROOT, "tests", "fixtures"))
import make_fixture  # noqa: E402  (its safetensors writer and bf16 rounding)

PIECE, BATCH, LR, WARMUP, SEED = 512, 8, 3e-3, 20, 1234


def tokenizer():
    t = json.load(open(os.path.join(zoo_data.ZOO, "tokenizer", "tokenizer.json"), encoding="utf-8"))
    return bpe.Encoder(t["model"]["vocab"], [m.split(" ") for m in t["model"]["merges"]])


def pieces(samples, enc):
    out = []
    for s in samples:
        ids = enc.encode(s["text"])[1:]
        for k in range(0, len(ids), PIECE - 1):
            out.append([models.BOS] + ids[k:k + PIECE - 1])
    return out


def held_out_sequences(enc, limit=None):
    """Held-out samples as scanned: <|bos|> + text, truncated to 512 tokens."""
    _, held = zoo_data.split()
    seqs = [enc.encode(s["text"])[:PIECE] for s in held]
    return seqs[:limit] if limit else seqs


class RouterTap:
    """Collects each MoE layer's router logits (forward hook on mlp.gate) for the balance loss."""

    def __init__(self, m):
        self.logits = []
        for layer in m.text.layers:
            if isinstance(getattr(layer, "mlp", None), models.hf_dense.SparseMoeBlock):
                layer.mlp.gate.register_forward_hook(lambda mod, i, o: self.logits.append(o))

    def balance_loss(self):
        """Σ over layers of E · Σ_e f_e · P_e (f: share of top-k slots, P: mean probability)."""
        total = 0.0
        for lg in self.logits:
            p = torch.softmax(lg, dim=-1)
            top = torch.topk(p, models.TOP_K, dim=-1).indices
            f = torch.zeros_like(p).scatter_(1, top, 1.0).mean(0) / models.TOP_K
            total = total + models.EXPERTS * (f.detach() * p.mean(0)).sum()
        self.logits = []
        return total


def loss_of(m, ids):
    x = torch.tensor(ids)
    logits = m(x[:-1])
    return torch.nn.functional.cross_entropy(logits, x[1:], reduction="sum"), len(ids) - 1


def evaluate(m, seqs):
    m.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for s in seqs:
            if len(s) < 2:
                continue
            l, k = loss_of(m, s)
            tot += float(l)
            n += k
    m.train()
    return tot / n


def lr_at(step, steps):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, steps - WARMUP)
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def train(name, data, held_small, held_all, budget, log):
    torch.manual_seed(SEED)
    m = models.build(name, SEED)
    m.train()
    decay = [p for p in m.parameters() if p.dim() == 2]
    other = [p for p in m.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    router = RouterTap(m)
    per_epoch = sum(len(p) - 1 for p in data)
    order, rng = [], random.Random(SEED)
    while sum(len(data[i]) - 1 for i in order) < budget:
        epoch = list(range(len(data)))
        rng.shuffle(epoch)
        order += epoch
    steps = math.ceil(len(order) / BATCH)
    init_loss = evaluate(m, held_all)
    curve = [{"step": 0, "tokens": 0, "held_out_loss": init_loss}]
    print(f"{name}: {steps} steps, {per_epoch} tokens per epoch, held-out loss at init "
          f"{init_loss:.4f}", flush=True)
    t0, seen, run_loss, run_n = time.time(), 0, 0.0, 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps)
        batch = order[step * BATCH:(step + 1) * BATCH]
        n_tok = sum(len(data[i]) - 1 for i in batch)
        for i in batch:
            l, k = loss_of(m, data[i])
            aux = router.balance_loss() * k * 0.01
            ((l + aux) / n_tok).backward()
            run_loss += float(l)
            run_n += k
        seen += n_tok
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % 25 == 0 or step + 1 == steps:
            point = {"step": step + 1, "tokens": seen, "train_loss": run_loss / run_n,
                     "held_out_loss": evaluate(m, held_small), "seconds": time.time() - t0}
            curve.append(point)
            run_loss, run_n = 0.0, 0
            print(f"{name}: step {step + 1}/{steps} tokens {seen} train {point['train_loss']:.4f} "
                  f"held-out(32) {point['held_out_loss']:.4f} {point['seconds']:.0f} s", flush=True)
    seconds = time.time() - t0
    log.update({"steps": steps, "tokens_seen": seen, "epochs": seen / per_epoch,
                "train_seconds": round(seconds, 1), "curve": curve,
                "held_out_loss_init": init_loss, "held_out_loss_fp32": evaluate(m, held_all)})
    return m


def write_checkpoint(m, name, out, log):
    os.makedirs(out, exist_ok=True)
    state = models.hf_state(m)
    make_fixture.write_safetensors(
        os.path.join(out, "model.safetensors"),
        [(k, "BF16", list(state[k].shape), make_fixture.to_bf16_bytes(state[k].detach().numpy()))
         for k in sorted(state)], {"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(models.CONFIGS[name], f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": models.BOS, "eos_token_id": models.EOS,
                   "pad_token_id": models.PAD}, f, indent=2)
        f.write("\n")
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(zoo_data.ZOO, "tokenizer", fn), os.path.join(out, fn))
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump(log, f, indent=1)
        f.write("\n")


def checkpoint_check(folder, enc, samples=48):
    """The held-out loss of the saved checkpoint (bf16 weights, fp32 compute) on the first
    `samples` held-out sequences: what tests/reference/test_zoo.py recomputes."""
    m = models.hf_dense.load(folder, torch.float32)
    seqs = held_out_sequences(enc, samples)
    loss = evaluate(m, seqs)
    path = os.path.join(folder, "training_log.json")
    log = json.load(open(path))
    log["checkpoint_check"] = {"samples": len(seqs), "held_out_loss": loss}
    with open(path, "w") as f:
        json.dump(log, f, indent=1)
        f.write("\n")
    return loss


ARCH_TEXT = {
    "llama-tiny": "Llama (`LlamaForCausalLM`): pre-norm RMSNorm, SwiGLU MLP 512 wide, RoPE "
                  "θ = 10000, full causal attention",
    "gemma3-tiny": "Gemma 3 (`Gemma3ForCausalLM`, `gemma3_text`): sandwich norms (RMSNorm with "
                   "1 + w before and after attention and MLP), q/k norms, embeddings scaled by "
                   "√192, GELU-tanh MLP 512 wide, layers 0–4 sliding-window attention (128 "
                   "tokens, RoPE θ = 10000) and layer 5 global (RoPE θ = 10⁶)",
    "qwen3-moe-tiny": "Qwen3-MoE (`Qwen3MoeForCausalLM`): pre-norm RMSNorm, q/k norms, every "
                      "layer a sparse MoE block of 8 SwiGLU experts 256 wide, top-2 with "
                      "renormalised softmax weights (2 × 256 = the dense models' 512 per token), "
                      "RoPE θ = 10⁶",
}


def model_card(name, log):
    c = models.CONFIGS[name]
    curve = log["curve"]
    rows = "\n".join(f"| {p['step']} | {p['tokens']:,} | {(format(p['train_loss'], '.3f') if 'train_loss' in p else '—')} | "
                     f"{p['held_out_loss']:.3f} |" for p in curve[::2] + ([curve[-1]] if len(curve) % 2 == 0 else []))
    chk = log.get("checkpoint_check", {})
    return f"""---
license: other
license_name: maxact
license_link: ../README.md
library_name: transformers
pipeline_tag: text-generation
tags: [maxact, tiny, {c['model_type']}]
---
# {name}

A tiny {c['model_type']} model trained by maxact's `scripts/zoo/train_models.py` so that maxact's
demo and tests have real trained weights to measure. It is not a useful language model: it has
seen 0.65 M tokens once. It is a Hugging Face checkpoint (`config.json`, `model.safetensors` in
bf16, `tokenizer.json`, `tokenizer_config.json`) for `transformers`' `{c['architectures'][0]}`:
config keys and tensor names as its modeling code reads them, checked tap by tap against maxact's
PyTorch reference of that code (`transformers` itself is not packaged by Debian and was not run).

* **Architecture**: {ARCH_TEXT[name]}. Hidden size {c['hidden_size']}, {c['num_hidden_layers']} layers,
  {c['num_attention_heads']} query heads / {c['num_key_value_heads']} KV heads of {c['head_dim']},
  vocabulary {c['vocab_size']}, tied embeddings.
* **Parameters**: {log['params_total']:,} in total, {log['params_active']:,} active per token.
* **Tokenizer**: byte-level BPE (GPT-2 pre-tokenizer, {c['vocab_size']} tokens, `<|bos|>` prepended)
  trained by `scripts/zoo/train_tokenizer.py` on the same training text; identical ids to
  Hugging Face's `tokenizers` on the whole built-in corpus (tested).
* **Data**: maxact's built-in multi-domain corpus (`data/corpus/builtin.jsonl`): English prose,
  code, Chinese, other scripts, math, chat, structured text. Every tenth sample (id % 10 == 9,
  {log['held_out_samples']} samples, {log['held_out_tokens']:,} predicted tokens) is held out; the
  {log['train_samples']} others ({log['tokens_seen'] / log['epochs']:,.0f} tokens) are the training set.
* **Training**: {log['steps']} AdamW steps of {log['batch_pieces']} pieces of at most {log['piece_tokens']} tokens (each
  starting with `<|bos|>`), {log['tokens_seen']:,} tokens = {log['epochs']:.2f} epoch; peak learning rate
  {log['peak_lr']}, {log['warmup_steps']} warm-up steps, cosine to 10 %, weight decay 0.1, clipping 1.0,
  fp32{', Switch load-balancing loss 0.01' if 'moe' in name else ''}; initialisation normal(0, 0.02), seed
  {log['seed']}. {log['train_seconds'] / 60:.1f} minutes on {log['machine']} (torch {log['torch']}).
  Saved as the fp32 weights rounded to bf16 (nearest even).
* **Result**: held-out loss {log['held_out_loss_init']:.3f} nats/token at initialisation →
  {log['held_out_loss_fp32']:.3f} after training (fp32 weights); the saved bf16 checkpoint gives
  {chk.get('held_out_loss', float('nan')):.4f} on the first {chk.get('samples', 0)} held-out samples, which
  `tests/reference/test_zoo.py` recomputes and compares with the random initialisation's.

## Loss curve (held-out: 32 held-out samples; the last row's train loss is over its last steps)

| step | tokens | train loss | held-out loss |
|---:|---:|---:|---:|
{rows}

The full curve is in `training_log.json`.

## Licence

Same terms as the maxact repository that contains it. The training text is maxact's built-in
corpus, whose samples carry their own licences (MIT, PSF-2.0, Apache-2.0, BSD-3-Clause and text
written for the project; see docs/CORPUS.md).
"""


def finalize(folder, name, enc):
    """config.json from CONFIGS, the checkpoint check and the model card from the training log
    (run on the training machine: an older log's bare machine name gets the CPU model)."""
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(models.CONFIGS[name], f, indent=2)
        f.write("\n")
    checkpoint_check(folder, enc)
    path = os.path.join(folder, "training_log.json")
    log = json.load(open(path))
    if log.get("machine", "").endswith(", cpu"):
        log["machine"] = machine(int(log["machine"].split(", ")[1].split()[0]))
        with open(path, "w") as f:
            json.dump(log, f, indent=1)
            f.write("\n")
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(model_card(name, log))


def machine(threads):
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()} {cpu}, {threads} threads of {os.cpu_count()} cores"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(models.CONFIGS))
    ap.add_argument("--tokens", type=int, default=600_000,
                    help="token budget per model, rounded up to whole epochs (600 k: one epoch)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default=zoo_data.ZOO)
    ap.add_argument("--write-init", metavar="DIR",
                    help="only write each model's random initialisation (the training seed) as a "
                         "checkpoint under DIR (docs/ZOO.md compares its peaks)")
    ap.add_argument("--finalize", action="store_true",
                    help="only redo the checkpoint check and the model card of trained models")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    enc = tokenizer()
    if a.write_init:
        for name in a.models.split(","):
            write_checkpoint(models.build(name, SEED), name, os.path.join(a.write_init, name),
                             {"model": name, "random_initialisation": True, "seed": SEED})
        return
    if a.finalize:
        for name in a.models.split(","):
            finalize(os.path.join(a.out, name), name, enc)
        return
    train_samples, _ = zoo_data.split()
    data = pieces(train_samples, enc)
    held_all = held_out_sequences(enc)
    held_small = held_all[::5][:32]
    for name in a.models.split(","):
        total, active = models.active_params(name)
        log = {"model": name, "params_total": total, "params_active": active,
               "seed": SEED, "token_budget": a.tokens, "piece_tokens": PIECE,
               "batch_pieces": BATCH, "peak_lr": LR, "warmup_steps": WARMUP,
               "train_samples": len(train_samples), "held_out_samples": len(held_all),
               "held_out_tokens": sum(len(s) - 1 for s in held_all),
               "machine": machine(a.threads),
               "torch": torch.__version__, "python": platform.python_version()}
        m = train(name, data, held_small, held_all, a.tokens, log)
        write_checkpoint(m, name, os.path.join(a.out, name), log)
        finalize(os.path.join(a.out, name), name, enc)
        print(f"{name}: held-out loss {log['held_out_loss_init']:.4f} -> "
              f"{log['held_out_loss_fp32']:.4f} in {log['train_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
