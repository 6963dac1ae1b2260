"""Checkpoint configs, loading and saving, learning-rate schedules, held-out loss."""

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
from .data import load_tokenizer, copy_tokenizer

# ----------------------------------------------------------------------------------------------
# models


def build_config(args: argparse.Namespace, vocab: int):
    tok = load_tokenizer()
    ids = dict(bos_token_id=tok.token_to_id(BOS), eos_token_id=tok.token_to_id(EOS),
               pad_token_id=tok.token_to_id(PAD))
    if args.arch == "llama":
        from transformers import LlamaConfig
        return LlamaConfig(
            vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
            num_hidden_layers=args.layers, num_attention_heads=args.heads,
            num_key_value_heads=args.kv_heads, head_dim=args.hidden // args.heads,
            max_position_embeddings=MAX_POSITIONS, rms_norm_eps=1e-5, rope_theta=10000.0,
            tie_word_embeddings=args.tie, initializer_range=0.02, **ids)
    if args.arch == "gpt2":
        from transformers import GPT2Config
        return GPT2Config(
            vocab_size=vocab, n_embd=args.hidden, n_layer=args.layers, n_head=args.heads,
            n_inner=args.intermediate or 4 * args.hidden, n_positions=MAX_POSITIONS,
            tie_word_embeddings=True, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **ids)
    raise SystemExit(f"unknown --arch {args.arch}")


def count_params(model: nn.Module) -> int:
    seen = set()
    n = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n += p.numel()
    return n


def matmul_macs_per_token(config) -> int:
    """Weight multiply-accumulates per generated token (all linear layers and the LM head;
    attention over the context excluded, embedding lookups excluded)."""
    if config.model_type == "llama":
        h, i, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        hd = config.head_dim
        attn = h * (config.num_attention_heads * hd) * 2 + h * (config.num_key_value_heads * hd) * 2
        mlp = 3 * h * i
        return L * (attn + mlp) + h * config.vocab_size
    h, L = config.n_embd, config.n_layer
    i = config.n_inner or 4 * h
    return L * (4 * h * h + 2 * h * i) + h * config.vocab_size


def load_model(path: Path, dtype=torch.float32):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float16)
    return model.to(dtype).eval()


def save_checkpoint(model: nn.Module, out: Path, extra_config: dict | None = None) -> None:
    from transformers import GenerationConfig
    out.mkdir(parents=True, exist_ok=True)
    half = type(model)(model.config)
    half.load_state_dict(model.state_dict())
    half = half.to(torch.float16)
    half.config.dtype = "float16"
    half.save_pretrained(str(out), safe_serialization=True)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["torch_dtype"] = "float16"  # older readers look for this key
    if cfg.get("model_type") == "llama":
        cfg["rope_theta"] = float(cfg.get("rope_parameters", {}).get("rope_theta", 10000.0))
    if extra_config:
        cfg.update(extra_config)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    c = model.config
    GenerationConfig(bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id,
                     pad_token_id=c.pad_token_id, do_sample=False,
                     max_length=MAX_POSITIONS).save_pretrained(str(out))
    copy_tokenizer(out)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def wsd_lr_at(step: int, decay_start: int | None, total: int | None, peak: float,
              warmup: int) -> float:
    """Warmup, constant, then linear decay to 10% over [decay_start, total)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if decay_start is None or total is None or step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start) / max(1, total - decay_start))
    return peak * (1.0 - 0.9 * progress)


@torch.no_grad()
def heldout_loss(model: nn.Module, data: np.ndarray, seq: int, max_tokens: int,
                 batch: int = 8) -> float:
    """Mean next-token cross-entropy over non-overlapping held-out windows, fp32."""
    model.eval()
    n_win = min((data.size - 1) // seq, max(1, max_tokens // seq))
    total, count = 0.0, 0
    for b0 in range(0, n_win, batch):
        rows = [data[i * seq:i * seq + seq + 1] for i in range(b0, min(n_win, b0 + batch))]
        x = torch.from_numpy(np.stack(rows).astype(np.int64))  # [B, seq + 1]
        logits = model(input_ids=x[:, :-1]).logits.float()  # [B, seq, vocab]
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1),
                               reduction="sum")
        total += loss.item()
        count += x[:, 1:].numel()
    return total / count

