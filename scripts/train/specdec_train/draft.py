"""`pretrain`: a Llama or GPT-2 checkpoint, fresh or distilled from a teacher (runs the
teacher every step); `distill`: a draft distilled from the feature cache."""

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
from .data import *
from .models import *

# ----------------------------------------------------------------------------------------------
# pretrain


def cmd_pretrain(args: argparse.Namespace) -> None:
    from transformers import AutoModelForCausalLM
    setup_torch(args.threads)
    seed_all(args.seed)
    run_dir = RUNS / args.name
    run_dir.mkdir(parents=True, exist_ok=True)
    out = MODELS / args.name
    train = load_split("train")
    held = load_split("heldout")
    vocab = load_tokenizer().get_vocab_size()
    config = build_config(args, vocab)
    model = AutoModelForCausalLM.from_config(config).float()
    teacher = None
    if args.teacher:
        teacher = load_model(MODELS / args.teacher, torch.float32)
        for p in teacher.parameters():
            p.requires_grad_(False)
        if teacher.config.vocab_size != vocab:
            raise SystemExit("teacher vocabulary differs")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    state_path = run_dir / "state.pt"
    stable_path = run_dir / "stable.pt"
    step, total_steps, elapsed_before, history = 0, args.steps, 0.0, []
    decay_start = args.decay_start
    if args.resume_stable:
        state_path_in = stable_path
    else:
        state_path_in = state_path
    if (args.resume or args.resume_stable) and state_path_in.exists():
        st = torch.load(state_path_in, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed_before, history = st["step"], st["elapsed"], st["history"]
        if not args.resume_stable:
            total_steps, decay_start = st["total_steps"], st.get("decay_start")
        log(f"{args.name}: resumed from {state_path_in.name} at step {step}/{total_steps}")
    n_params = count_params(model)
    tokens_per_step = args.batch * args.seq
    log(f"{args.name}: {n_params} params, {tokens_per_step} tokens/step, "
        f"teacher={args.teacher or '-'}")

    def save_state(path: Path = state_path) -> None:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "total_steps": total_steps, "decay_start": decay_start,
                    "elapsed": elapsed_before + (time.time() - t0),
                    "history": history, "args": vars(args)}, path)

    budget = args.max_minutes * 60.0
    t0 = time.time()
    last_save = t0
    ema = None
    measure_from = None
    eval_every = max(1, args.eval_every)
    evalset = held[: min(held.size, 16 * (args.seq + 1) * 4)]
    step_times: list[float] = []
    while total_steps is None or step < total_steps:
        if args.schedule == "wsd" and decay_start is None and (
                time.time() - t0 > budget * (1 - args.decay_frac)):
            # Warmup-stable-decay: the stable phase ends when the budget says so; the decay
            # length comes from the recent step time. Both numbers are logged for replay.
            save_state(stable_path)
            n = min(50, len(step_times) - 1)
            if n >= 1:
                per_step = (step_times[-1] - step_times[-1 - n]) / n  # wall clock, evals included
            else:
                per_step = (time.time() - t0) / max(1, len(step_times))
            decay_start = step
            remaining = budget * 0.97 - (time.time() - t0)
            total_steps = step + max(1, int(remaining / per_step))
            log(f"{args.name}: decay from step {decay_start} to {total_steps} "
                f"({per_step * 1000:.0f} ms/step); stable state saved to {stable_path}")
        if args.schedule == "cosine" and total_steps is None and step == 3:
            measure_from = (time.time(), step)
        if args.schedule == "cosine" and total_steps is None and measure_from and \
                step == measure_from[1] + args.measure_steps:
            per_step = (time.time() - measure_from[0]) / args.measure_steps
            remaining = budget * args.budget_fill - (time.time() - t0)
            total_steps = step + max(1, int(remaining / per_step))
            log(f"{args.name}: {per_step * 1000:.0f} ms/step -> total_steps {total_steps} "
                f"({total_steps * tokens_per_step} tokens)")
        if time.time() - t0 > budget:
            log(f"{args.name}: wall-time budget reached at step {step}")
            break
        model.train()
        if args.schedule == "wsd":
            lr = wsd_lr_at(step, decay_start, total_steps, args.lr, args.warmup)
        else:
            lr = lr_at(step, total_steps or 10**9, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        x = batch_at(train, step, args.seed, args.batch, args.seq)  # [B, seq + 1]
        with autocast(args.precision):
            logits = model(input_ids=x[:, :-1]).logits  # [B, seq, vocab]
            ce = F.cross_entropy(logits.float().reshape(-1, vocab), x[:, 1:].reshape(-1))
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(input_ids=x[:, :-1]).logits  # [B, seq, vocab]
                kl = kl_loss(logits, t_logits)
                loss = args.distill_alpha * kl + (1 - args.distill_alpha) * ce
            else:
                kl = None
                loss = ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        step_times.append(time.time())
        ema = ce.item() if ema is None else 0.95 * ema + 0.05 * ce.item()
        if step % 10 == 0 or step == 1:
            rec = {"step": step, "tokens": step * tokens_per_step, "train_ce": round(ce.item(), 4),
                   "train_ce_ema": round(ema, 4), "lr": lr,
                   "elapsed_s": round(elapsed_before + time.time() - t0, 1)}
            if kl is not None:
                rec["train_kl"] = round(kl.item(), 4)
            if step % eval_every == 0:
                rec["heldout_ce"] = round(heldout_loss(model, evalset, args.seq, 10**9), 4)
            history.append(rec)
            if step % 50 == 0 or "heldout_ce" in rec:
                log(f"{args.name}: {json.dumps(rec)}")
        if time.time() - last_save > args.save_minutes * 60:
            save_state()
            last_save = time.time()
    wall = elapsed_before + time.time() - t0
    save_state()
    completed = total_steps is not None and step >= total_steps
    model.eval()
    final_loss = heldout_loss(model, held, args.seq, args.eval_tokens)
    summary = {
        "name": args.name,
        "architecture": config.model_type,
        "config": {k: getattr(config, k) for k in (
            ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "head_dim", "intermediate_size", "tie_word_embeddings")
            if config.model_type == "llama" else
            ("n_embd", "n_layer", "n_head", "n_inner", "tie_word_embeddings"))},
        "vocab_size": vocab,
        "parameters": n_params,
        "matmul_macs_per_token": matmul_macs_per_token(config),
        "teacher": args.teacher,
        "objective": ("distillation: %.2f * KL(teacher || student) + %.2f * CE" % (
            args.distill_alpha, 1 - args.distill_alpha)) if teacher is not None
        else "next-token cross-entropy",
        "seed": args.seed,
        "seq_len": args.seq,
        "batch": args.batch,
        "peak_lr": args.lr,
        "steps": step,
        "planned_steps": total_steps,
        "schedule": args.schedule,
        "decay_start": decay_start,
        "completed": completed,
        "training_tokens": step * tokens_per_step,
        "wall_time_s": round(wall, 1),
        "threads": args.threads,
        "heldout_eval_tokens": int(min((held.size - 1) // args.seq, args.eval_tokens // args.seq)
                                   * args.seq),
        "heldout_loss": round(final_loss, 4),
        "heldout_perplexity": round(math.exp(final_loss), 3),
        "weights": "float16 safetensors (fp32 master weights, %s compute)" % args.precision,
        "reproduce": "train.py pretrain " + " ".join(reproduce_flags(args, total_steps, decay_start)),
        "history": history,
    }
    save_checkpoint(model, out)
    (out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"{args.name}: done, {step} steps, heldout loss {final_loss:.4f} "
        f"(ppl {math.exp(final_loss):.2f}), {wall:.0f}s -> {out}")


def reproduce_flags(args: argparse.Namespace, total_steps, decay_start=None) -> list[str]:
    flags = [f"--name {args.name}", f"--arch {args.arch}", f"--hidden {args.hidden}",
             f"--layers {args.layers}", f"--heads {args.heads}", f"--kv-heads {args.kv_heads}",
             f"--intermediate {args.intermediate}", f"--seq {args.seq}", f"--batch {args.batch}",
             f"--lr {args.lr}", f"--warmup {args.warmup}", f"--seed {args.seed}",
             f"--steps {total_steps}", f"--schedule {args.schedule}",
             f"--precision {args.precision}"]
    if args.schedule == "wsd":
        flags.append(f"--decay-start {decay_start}")
    if args.tie:
        flags.append("--tie")
    if args.teacher:
        flags += [f"--teacher {args.teacher}", f"--distill-alpha {args.distill_alpha}"]
    return flags


