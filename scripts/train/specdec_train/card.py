"""models/README.md and models/loss_curves.png from the committed training logs."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import *
from .evaluate import *

# ----------------------------------------------------------------------------------------------
# card


def cmd_card(args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = {}
    for d in sorted(MODELS.iterdir()):
        s = d / "train_summary.json"
        if s.exists():
            summaries[d.name] = json.loads(s.read_text())
    tokens = json.loads((DATA / "tokens.json").read_text()) if (DATA / "tokens.json").exists() \
        else None
    manifest = json.loads((DATA / "manifest.json").read_text()) if (DATA / "manifest.json").exists() \
        else None
    # loss curves
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, s in summaries.items():
        xs = [h["tokens"] / 1e6 for h in s["history"]]
        ax = axes[0] if name.startswith("tiny") else axes[1]
        ax.plot(xs, [h["train_ce_ema"] for h in s["history"]], label=f"{name} train CE (EMA)")
        ev = [(h["tokens"] / 1e6, h["heldout_ce"]) for h in s["history"] if "heldout_ce" in h]
        if ev:
            ax.plot(*zip(*ev), "o--", ms=3, label=f"{name} held-out CE")
    for ax, title in zip(axes, ("tiny models", "bench models")):
        ax.set_title(title)
        ax.set_xlabel("training tokens (millions)")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(MODELS / "loss_curves.png", dpi=110)
    lines = ["# specdec model family", "",
             "Small causal language models trained from scratch for this project on the Python "
             "standard library sources, in Hugging Face format (`config.json`, "
             "`generation_config.json`, `model.safetensors`, tokenizer files). They exist so that "
             "speculative decoding can be measured on real trained draft/target pairs. They are "
             "small and undertrained: they write Python-looking text, not correct programs.",
             "",
             "This page is written by `scripts/train/train.py card` from the committed "
             "`train_summary.json` and `agreement.json` files; every number below comes from "
             "those logs.", ""]
    lines += ["## Data", ""]
    if manifest and tokens:
        lines.append(f"- Corpus: Python {manifest['python']} standard library `*.py` sources, "
                     f"skipping test folders ({', '.join(manifest['skipped_dirs'])}) and "
                     f"{len(manifest['skipped_generated'])} generated files (`pydoc_data/topics.py`, "
                     "codec tables, files marked generated). Manifest with relative path, bytes "
                     "and sha256: `runs/data/manifest.json` (rebuilt by `train.py corpus`).")
        lines.append(f"- Held-out split by file: {manifest['heldout_rule']}. Train: "
                     f"{tokens['train']['files']} files, {tokens['train']['bytes']} bytes, "
                     f"{tokens['train']['tokens']} tokens; held-out: {tokens['heldout']['files']} "
                     f"files, {tokens['heldout']['bytes']} bytes, {tokens['heldout']['tokens']} "
                     "tokens. Evaluation prompts and fixtures come only from the held-out files.")
    lines.append("- Tokenizer: byte-level BPE (Hugging Face `tokenizers`), vocabulary 4096, shared "
                 "by every model. Special tokens: `<|bos|>` = 0, `<|eos|>` = 1, `<|pad|>` = 2. "
                 "No special tokens are added by `encode`; training streams are `<|bos|> file "
                 "<|eos|>` concatenated, cut into random windows.")
    lines.append("- Weights: float16 safetensors (`torch_dtype` float16) for every checkpoint, "
                 "trained with fp32 master weights on 2 shared CPU cores (tiny models with fp32 "
                 "compute, which measured faster for them; bench models under bf16 autocast). "
                 "Positions up to the training window (column seq) are trained; "
                 "`max_position_embeddings` is 2048 (GPT-2's learned positions past the window "
                 "keep their initial values).")
    lines.append("- Optimiser: AdamW (beta 0.9/0.95, weight decay 0.1 on matrices), gradient clip "
                 "1.0, batch 8 x 256 tokens. Schedule `wsd`: linear warmup, constant, then a "
                 "linear decay to 10% over the last ~20% of the wall-time budget (the decay start "
                 "is logged as `decay_start`; `runs/<name>/stable.pt` keeps the pre-decay state "
                 "for a longer continuation with `--resume-stable`). Schedule `cosine`: cosine to "
                 "10% over a step count measured at the start.")
    lines.append("- The training machine has 2 CPU cores. The first runs shared them with the rest "
                 "of the team's builds and tests (load average 25-40); bench-target was then "
                 "continued from its stable state with `--resume-stable` and an 85-minute budget on "
                 "a mostly quiet machine, and bench-draft (then also continued with `--resume-stable`) "
                 "and the bench Medusa heads were retrained from it. The token counts below are what the wall-time budgets allowed (column "
                 "tokens/s), not what the models could use; larger budgets give better models.")
    lines += ["", "## Checkpoints", "",
              "| model | arch | layers | hidden | heads / KV | FFN | params | MACs/token | "
              "train tokens | seq | wall time | tokens/s | held-out loss | held-out ppl | eval tokens | "
              "complete |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        if "architecture" not in s:
            continue
        c = s["config"]
        if s["architecture"] == "llama":
            arch = "Llama" + (" (tied emb.)" if c["tie_word_embeddings"] else "")
            layers, hidden = c["num_hidden_layers"], c["hidden_size"]
            heads = f"{c['num_attention_heads']} / {c['num_key_value_heads']} (d={c['head_dim']})"
            ffn = c["intermediate_size"]
        else:
            arch = "GPT-2 (tied emb.)"
            layers, hidden = c["n_layer"], c["n_embd"]
            heads = f"{c['n_head']} / {c['n_head']} (d={c['n_embd'] // c['n_head']})"
            ffn = c["n_inner"]
        lines.append(
            f"| `{name}` | {arch} | {layers} | {hidden} | {heads} | {ffn} | "
            f"{s['parameters'] / 1e6:.2f}M | {s['matmul_macs_per_token'] / 1e6:.2f}M | "
            f"{s['training_tokens'] / 1e6:.2f}M | {s['seq_len']} | {s['wall_time_s'] / 60:.1f} min | "
            f"{s['training_tokens'] / max(1.0, s['wall_time_s']):.0f} | "
            f"{s['heldout_loss']:.3f} | {s['heldout_perplexity']:.1f} | "
            f"{s['heldout_eval_tokens']} | "
            f"{'yes' if s['completed'] else 'stopped at budget'} |")
    lines += ["", "Each `models/<name>/train_summary.json` holds the full log (loss every 10 steps, "
              "held-out loss on a small fixed held-out set during training), the seed and the "
              "exact `reproduce` command."]
    lines += ["",
              "MACs/token: multiply-accumulates of all weight matrices per generated token, LM "
              "head included (attention over the context not counted). Held-out loss: mean "
              "next-token cross-entropy (nats) in fp32 over non-overlapping windows of the "
              "held-out files; perplexity = exp(loss).", ""]
    for name, s in summaries.items():
        if s.get("teacher"):
            t = summaries.get(s["teacher"])
            ratio = (f"; per-token compute ratio draft/target = "
                     f"{s['matmul_macs_per_token'] / t['matmul_macs_per_token']:.4f}"
                     if t else "")
            lines.append(f"- `{name}` is distilled from `{s['teacher']}` ({s['objective']}"
                         f"{ratio}).")
    lines += ["", "![loss curves](loss_curves.png)", "", "## Draft/target agreement", "",
              "Measured by `train.py agreement` on random windows of the held-out files: the "
              "target writes a greedy continuation; at every position the draft (teacher-forced "
              "on the target's path) proposes its greedy token. Position i match rate: the "
              "probability that the i-th proposal of a chain is the target's token given the "
              "first i-1 were. Expected tokens per target step with g proposals: 1 + sum of "
              "P(first i all match), i = 1..g (greedy speculative decoding).", "",
              "| draft | target | chains | token match | pos 1 | pos 2 | pos 3 | pos 4 | pos 5 | "
              "E[tokens/step] g=1..5 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for d in sorted(MODELS.iterdir()):
        a = d / "agreement.json"
        if a.exists():
            r = json.loads(a.read_text())
            st = r["draft_target"]
            pm = " | ".join(f"{v:.3f}" for v in st["position_match_rate"])
            lines.append(f"| `{r['draft']}` | `{r['target']}` | {st['chains']} | "
                         f"{st['token_match_rate']:.3f} | {pm} | "
                         f"{', '.join(f'{v:.2f}' for v in st['expected_tokens_per_target_step'])} |")
    lines += ["", "`target distinct` = distinct tokens in the target's greedy continuations: an "
              "undertrained target that repeats one token makes agreement look high without "
              "meaning much.", ""]
    for d in sorted(MODELS.iterdir()):
        a = d / "agreement.json"
        if a.exists():
            st = json.loads(a.read_text())["draft_target"]
            if "target_greedy_distinct_tokens" in st:
                lines.append(f"- `{d.name}`: target distinct = {st['target_greedy_distinct_tokens']}")
    lines += ["", "## Medusa heads", "",
              "Medusa-1 heads on a frozen base, saved in `models/<base>/medusa/` "
              "(`config.json`, `model.safetensors`). Four heads, one residual block each: "
              "`h_k = h + SiLU(W_k h + b_k)`, logits `= lm_head(h_k)`. The heads **share the "
              "base model's LM head** (not stored again), so the file holds only the blocks: "
              "`medusa_head.{k}.0.linear.weight` [H, H] and `medusa_head.{k}.0.linear.bias` [H], "
              "k = 0..3, float16. Input `h`: the base's last hidden state after its final norm. "
              "Head k predicts the token k + 2 positions after `h`'s token (the base itself "
              "predicts k = -1, the next one). Blocks are zero-initialised and trained with "
              "KL(base || head) on the base's own predictions (self-distillation): half the "
              "batches are continuations generated by the base from corpus prompts (half greedy, "
              "half sampled), half corpus windows; loss weight 0.8^k.", "",
              "| base | params | steps | train tokens | wall time | head top-1 (k=0..3) | "
              "head top-5 | chain pos 1..5 | E[tokens/base step], top-1 chain |",
              "|---|---|---|---|---|---|---|---|---|"]
    for d in sorted(MODELS.iterdir()):
        a = d / "medusa" / "agreement.json"
        s = d / "medusa" / "train_summary.json"
        if a.exists() and s.exists():
            r = json.loads(a.read_text())["medusa"]
            t = json.loads(s.read_text())
            lines.append(
                f"| `{d.name}` | {t['parameters'] / 1e6:.3f}M | {t['steps']} | "
                f"{t['training_tokens'] / 1e6:.2f}M | {t['wall_time_s'] / 60:.1f} min | "
                f"{', '.join(f'{v:.3f}' for v in r['head_top1_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['head_top5_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['position_match_rate'])} | "
                f"{r['expected_tokens_per_base_step_top1_chain']:.3f} |")
    lines += ["", "`config.json` fields: `medusa_num_heads` (4), `medusa_num_layers` (1), "
              "`hidden_size`, `vocab_size`, `shares_base_lm_head` (true), `base_model` (`..`, "
              "the base checkpoint relative to `medusa/`), `base_model_name`, `dtype`, and "
              "descriptive `block`, `input`, `head_offset`, `tensors`.", ""]
    samples = []
    for d in sorted(MODELS.iterdir()):
        ref = FIXTURES / "reference" / f"{d.name}.json"
        if ref.exists():
            case = json.loads(ref.read_text())["cases"][0]
            text = json.dumps(case["greedy_text"][:90])[1:-1].replace("|", "\\|")
            samples.append(f"| `{d.name}` | `{text}` |")
    if samples:
        lines += ["## Greedy samples", "",
                  "Greedy continuation of the first reference prompt (from the fixtures; "
                  "escaped, first 90 characters):", "", "| model | continuation |", "|---|---|"]
        lines += samples
    lines += ["", "## Reference fixtures", "",
              "`tests/fixtures/prompts.json`: held-out code prompts (source file and line given) "
              "and a few prose prompts. `tests/fixtures/reference/<model>.json`: for the first "
              "code prompts, from transformers on CPU in fp32 (fp16 weights upcast): "
              "`prompt_ids`, `last_logits` (full vector, tiny models) and `last_logits_top20` "
              "(`ids`, `values`), `greedy_ids` (64 tokens, EOS not a stop) and, for models with "
              "Medusa heads, `medusa.hidden` (last hidden state), `medusa.heads_top20` and for "
              "tiny models `medusa.heads_logits` (first two cases).", "",
              "## Reproduce", "", "```sh",
              "scripts/train/run_all.sh            # everything, in order, with wall-time budgets",
              ".venv/bin/python scripts/train/train.py pipeline --only tiny",
              ".venv/bin/python scripts/train/train.py pipeline --only bench",
              ".venv/bin/python scripts/train/train.py check   # loads every checkpoint",
              ".venv/bin/python scripts/train/train.py card    # this page and loss_curves.png",
              "```", "",
              "The committed checkpoints came from these sub-commands with the budgets the "
              "shared machine allowed (tiny-draft, bench-target and bench-draft were continued once "
              "from their stable states with `--resume-stable`); the exact replay command of each is the `reproduce` field of "
              "its `train_summary.json` (fixed `--steps` and `--decay-start`: same batches, same "
              "learning-rate schedule, same seed).", "",
              "Budgets are wall-clock: a run measures its step time, fixes its total step count "
              "(recorded as `planned_steps`) and anneals the learning rate to it. Each "
              "`train_summary.json` has a `reproduce` command with the exact step count, which "
              "replays the same batches and seeds; `--resume` continues from `runs/<name>/state.pt`.",
              ""]
    (MODELS / "README.md").write_text("\n".join(lines))
    log("card written: models/README.md, models/loss_curves.png")


