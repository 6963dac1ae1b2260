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
    lines.append("- Feature cache (`train.py features`, issue 12): `bench-target` run once (fp32) over "
                 "non-overlapping 256-token windows of the corpus, stored outside the repository "
                 "(`$SPECDEC_FEATURES`, default `~/.cache/specdec/features/<sha256 prefix of the "
                 "target's weights>/`, a manifest with the target's sha256, the tokenizer's and "
                 "the corpus manifest's): per position the last hidden state after the final "
                 "norm (fp16), the top-32 logits and their ids, and the token ids; plus the "
                 "target's own greedy continuations of 32-token training prompts (split "
                 "`selfgen`: what greedy verification rewards). The EAGLE head, the Medusa heads "
                 "and the draft distillation read it instead of running the target each step; "
                 "their teacher distribution is the target's, recomputed exactly as "
                 "lm_head(cached hidden state) (the top-32 logits are kept for a cheaper "
                 "`--teacher topk`). Held-out windows are cached separately for the curves.")
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
    lines += medusa_section() + eagle_section() + tau_section()
    drafter_curves()
    if (MODELS / "drafter_curves.png").exists():
        lines += ["![drafter curves](drafter_curves.png)", "",
                  "Held-out curves of the drafters trained from the feature cache (x: tokens "
                  "seen; the draft's axis continues its earlier training).", ""]
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
    lines += quantization_section()
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




def quantization_section() -> list[str]:
    """Quality of q8/q4 weights, from `bench/quant_quality.ts --card` (`quantization.json`)."""
    lines: list[str] = []
    for d in sorted(p for p in MODELS.iterdir() if (p / "quantization.json").exists()):
        q = json.loads((d / "quantization.json").read_text())
        lines += ["", f"## Quantized weights: `{d.name}`", "",
                  f"Measured by `bench/quant_quality.ts --card` (the library's own q8/q4 "
                  f"quantization at load time): perplexity over {q['scoredTokens']} held-out "
                  f"tokens ({q['source']}), and agreement with f32 on {q['prompts']} held-out "
                  "code prompts x 64 greedy tokens.", "",
                  "| weights | perplexity | vs f32 | top-1 agreement with f32 | identical greedy prefix |",
                  "|---|---|---|---|---|"]
        for r in q["rows"]:
            name = r["weights"] + (f" ({r['variant']})" if r.get("variant") else "")
            lines.append(f"| {name} | {r['perplexity']:.3f} | {(r['relative'] - 1) * 100:+.2f}% | "
                         f"{r['top1Agreement'] * 100:.1f}% | {r['identicalPrefix']:.1f} / 64 |")
    return lines


def medusa_section() -> list[str]:
    lines = ["", "## Medusa heads", "",
             "Medusa-1 heads on a frozen base, saved in `models/<base>/medusa/` "
             "(`config.json`, `model.safetensors`). Four heads of L residual blocks each: "
             "`x_0 = h`, `x_(l+1) = x_l + SiLU(W_(k,l) x_l + b_(k,l))`, logits `= lm_head(x_L)` "
             "(L = `medusa_num_layers`, 1 in the Medusa-1 layout). The heads **share the base "
             "model's LM head** (not stored again), so the file holds only the blocks: "
             "`medusa_head.{k}.{l}.linear.weight` [H, H] and `medusa_head.{k}.{l}.linear.bias` "
             "[H], k = 0..3, float16. Input `h`: the base's last hidden state after its final "
             "norm. Head k predicts the token k + 2 positions after `h`'s token (the base itself "
             "predicts k = -1, the next one). Blocks are zero-initialised and trained on the "
             "base's own distributions (self-distillation), loss weight 0.8^k; how each set was "
             "trained is listed under the table.", "",
             "| base | heads folder | blocks/head | params | steps | train tokens | wall time | "
             "head top-1 (k=0..3) | head top-5 | chain pos 1..5 | E[tokens/base step], top-1 "
             "chain |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for d in sorted(x for x in MODELS.iterdir() if x.is_dir()):
        for sub in sorted(x.name for x in d.iterdir() if x.is_dir() and x.name.startswith("medusa")):
            a = d / sub / "agreement.json"
            sf = d / sub / "train_summary.json"
            if not (a.exists() and sf.exists()):
                continue
            r = json.loads(a.read_text())["medusa"]
            t = json.loads(sf.read_text())
            lines.append(
                f"| `{d.name}` | `{sub}/` | {t.get('num_layers', 1)} | "
                f"{t['parameters'] / 1e6:.3f}M | {t['steps']} | "
                f"{t['training_tokens'] / 1e6:.2f}M | {t['wall_time_s'] / 60:.1f} min | "
                f"{', '.join(f'{v:.3f}' for v in r['head_top1_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['head_top5_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['position_match_rate'])} | "
                f"{r['expected_tokens_per_base_step_top1_chain']:.3f} |")
            src = t.get("source") or ("the base run every step: half the batches continuations "
                                      "generated by the base from corpus prompts (half greedy, "
                                      "half sampled), half corpus windows; KL(base || head)")
            notes.append(f"- `{d.name}/{sub}`: {src}.")
    lines += [""] + notes
    lines += ["", "`config.json` fields: `medusa_num_heads` (4), `medusa_num_layers`, "
              "`hidden_size`, `vocab_size`, `shares_base_lm_head` (true), `base_model` (`..`, "
              "the base checkpoint relative to `medusa/`), `base_model_name`, `dtype`, and "
              "descriptive `block`, `input`, `head_offset`, `tensors`.", ""]
    return lines


def eagle_section() -> list[str]:
    rows, notes = [], []
    for d in sorted(x for x in MODELS.iterdir() if x.is_dir()):
        for sub in sorted(x.name for x in d.iterdir() if x.is_dir() and x.name.startswith("eagle")):
            sf = d / sub / "train_summary.json"
            if not sf.exists():
                continue
            t = json.loads(sf.read_text())
            a = d / sub / "agreement.json"
            if not t.get("trained"):
                notes.append(f"- `{d.name}/{sub}`: {t.get('parameters', 0) / 1e6:.3f}M params, "
                             "random weights for tests (`train.py eagle-init`), not trained.")
                continue
            if not a.exists():
                ev = [h for h in t.get("history", []) if "heldout_top1_by_step" in h]
                last = (f"; last held-out check during training (step {ev[-1]['step']}, cached "
                        "held-out windows, the target's tokens as inputs): top-1 by drafting step "
                        + ", ".join(f"{v:.3f}" for v in ev[-1]["heldout_top1_by_step"])) if ev else ""
                notes.append(f"- `{d.name}/{sub}`: {t['parameters'] / 1e6:.3f}M params, "
                             f"{t['steps']} steps, {t['training_tokens'] / 1e6:.2f}M tokens, "
                             f"{t['objective']}{last}. Not yet measured by `train.py agreement "
                             "--eagle`.")
                continue
            r = json.loads(a.read_text())["eagle"]
            rows.append(
                f"| `{d.name}` | `{sub}/` | {t['parameters'] / 1e6:.3f}M | {t['steps']} | "
                f"{t['training_tokens'] / 1e6:.2f}M | {t['wall_time_s'] / 60:.1f} min | "
                f"{', '.join(f'{v:.3f}' for v in r['step_top1_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['step_top5_match_rate'])} | "
                f"{', '.join(f'{v:.3f}' for v in r['position_match_rate'])} | "
                f"{', '.join(f'{v:.2f}' for v in r['expected_tokens_per_base_step'])} |")
            notes.append(f"- `{d.name}/{sub}`: {t['objective']}; {r['chains']} chains.")
    if not rows and not notes:
        return []
    lines = ["## EAGLE heads", "",
             "EAGLE-1 heads on a frozen base, saved in `models/<base>/eagle/` (`config.json` "
             "with `architecture: \"eagle-1\"`, `model.safetensors`, float16). One Llama decoder "
             "layer drafts from the base's own features: for position t, `x_t = fc(concat("
             "[embed(token_(t+1)), f_t]))` with the base's embedding table and `f_t` the base's "
             "last hidden state after its final norm; `h_t = layer(x_t)` (causal attention over "
             "the head's own KV cache, rotary at position t, no norm before attention) predicts "
             "`f_(t+1)` and is fed back as the next drafting step's feature; draft logits = "
             "the base's LM head applied to `h_t` (through `norm.weight` when present). Tensors: "
             "`fc.weight` [H, 2H], `fc.bias` [H], `layers.0.self_attn.{q,k,v,o}_proj.weight`, "
             "`layers.0.post_attention_layernorm.weight`, `layers.0.mlp.{gate,up,down}_proj."
             "weight`; the embeddings and the LM head are the base's (not stored again).", "",
             "Trained by `train.py eagle` from the feature cache (no base forward per step). "
             "Measured by `train.py agreement --eagle` on the target's greedy continuations of "
             "held-out prompts (the same prompts and paths as the draft and Medusa rows): a "
             "chain starts after every target token; drafting step i (i = 1..5) feeds back "
             "step i-1's output. Position 1 is the base's own token; position i+1 is step i, "
             "given the earlier steps matched. E[tokens/base step] for chains of g = 1..5 "
             "drafted tokens: 1 + sum of P(first i steps all match), i = 1..g.", ""]
    if rows:
        lines += ["| base | folder | params | steps | train tokens | wall time | step top-1 "
                  "(1..5) | step top-5 | chain pos 1..6 | E[tokens/base step] g=1..5 |",
                  "|---|---|---|---|---|---|---|---|---|---|"] + rows + [""]
    return lines + notes + [""]


def tau_section() -> list[str]:
    """Greedy chains on the same held-out paths: expected tokens per target forward (tau)."""
    rows = []
    for d in sorted(x for x in MODELS.iterdir() if x.is_dir()):
        a = d / "agreement.json"
        if a.exists():
            r = json.loads(a.read_text())
            e = r["draft_target"]["expected_tokens_per_target_step"]
            rows.append(f"| draft-target | `{r['draft']}` -> `{r['target']}` | "
                        + " | ".join(f"{v:.2f}" for v in e) + " |")
        for sub in sorted(x.name for x in d.iterdir() if x.is_dir()):
            a = d / sub / "agreement.json"
            if not a.exists():
                continue
            r = json.loads(a.read_text())
            if sub.startswith("medusa") and "medusa" in r:
                pre = r["medusa"]["prefix_all_match_rate"]
                e = [1 + sum(pre[1:g + 1]) for g in range(1, len(pre))]
                rows.append(f"| Medusa ({sub}/) | `{d.name}` | "
                            + " | ".join(f"{v:.2f}" for v in e) + " | - |")
            if sub.startswith("eagle") and "eagle" in r:
                e = r["eagle"]["expected_tokens_per_base_step"]
                rows.append(f"| EAGLE ({sub}/) | `{d.name}` | "
                            + " | ".join(f"{v:.2f}" for v in e) + " |")
    if not rows:
        return []
    return ["## Tokens per target forward (τ), greedy chains", "",
            "From the agreement files above (held-out prompts, the target's greedy "
            "continuations): expected tokens per target forward with a chain of g drafted "
            "tokens, all verified in one forward. Trees (Medusa, EAGLE-2) raise these by "
            "trying several candidates per position; the benchmark report measures them.", "",
            "| method | models | g=1 | g=2 | g=3 | g=4 | g=5 |", "|---|---|---|---|---|---|---|"]\
        + rows + [""]


def drafter_curves() -> None:
    """models/drafter_curves.png: held-out curves of the cache-trained drafters."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = []
    for d in sorted(x for x in MODELS.iterdir() if x.is_dir()):
        for sub in sorted(x.name for x in d.iterdir() if x.is_dir()):
            sf = d / sub / "train_summary.json"
            if not sf.exists():
                continue
            t = json.loads(sf.read_text())
            h = t.get("history", [])
            if sub.startswith("eagle") and any("heldout_ce" in r for r in h):
                panels.append((f"{d.name}/{sub}: EAGLE held-out soft CE (step 1)",
                               [(r["tokens"] / 1e6 if "tokens" in r else 0, r["heldout_ce"])
                                for r in h if "heldout_ce" in r], None))
            if sub.startswith("medusa") and any("heldout_kl" in r for r in h):
                pts = [(r["tokens"] / 1e6, r["heldout_kl"]) for r in h if "heldout_kl" in r]
                panels.append((f"{d.name}/{sub}: Medusa held-out KL per head", pts, "multi"))
        sf = d / "train_summary.json"
        if sf.exists():
            t = json.loads(sf.read_text())
            h = [r for r in t.get("history", []) if r.get("phase") == "distill (feature cache)"]
            if any("heldout_ce" in r for r in h):
                panels.append((f"{d.name}: distillation from the cache, held-out CE",
                               [(r["tokens"] / 1e6, r["heldout_ce"]) for r in h
                                if "heldout_ce" in r], None))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    axes = np.atleast_1d(axes)
    for ax, (title, pts, kind) in zip(axes, panels):
        xs = [p[0] for p in pts]
        if kind == "multi":
            for k in range(len(pts[0][1])):
                ax.plot(xs, [p[1][k] for p in pts], "o-", ms=2, label=f"head {k}")
            ax.legend(fontsize=7)
        else:
            ax.plot(xs, [p[1] for p in pts], "o-", ms=2)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("training tokens (millions)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(MODELS / "drafter_curves.png", dpi=100)
