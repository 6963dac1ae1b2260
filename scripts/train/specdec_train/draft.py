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




# ----------------------------------------------------------------------------------------------
# distill: a draft from the feature cache (no target forward per step)


def cmd_distill(args: argparse.Namespace) -> None:
    from transformers import AutoModelForCausalLM
    from .feature_cache import FeatureCache, Mixture, cache_dir_for
    from .train_loop import PauseTolerantClock, parse_fracs, time_lr, until_budget, write_pid
    setup_torch(args.threads)
    seed_all(args.seed)
    write_pid(args.pid_file)
    target_dir = MODELS / args.teacher
    target = load_model(target_dir, torch.float32)
    lm_head = target.get_output_embeddings().weight.detach().float()  # [V, H]
    del target
    init_dir = MODELS / args.init if args.init else None
    if init_dir is not None:
        model = load_model(init_dir, torch.float32)
        prior = json.loads((init_dir / "train_summary.json").read_text())
    else:
        raise SystemExit("distill needs --init (a checkpoint of the draft's shape)")
    model.train()
    cache = FeatureCache(Path(args.cache) if args.cache else cache_dir_for(target_dir))
    train = Mixture(cache, args.train_splits.split(","), parse_fracs(args.fracs))
    held_cache = cache.split("heldout")
    held = load_split("heldout")
    log(f"distill {args.name}: from {args.init}, {train.describe()}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    run_dir = RUNS / f"{args.name}-distill"
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    tokens0 = prior.get("training_tokens", 0)
    step, history, best = 0, [], None
    clock = PauseTolerantClock()
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, history, best = st["step"], st["history"], st.get("best")
        clock.before = st["elapsed"]
        # The summary of the checkpoint this run started from (models/<init> may since hold
        # this run's own promoted result).
        prior = st.get("prior") or (json.loads((run_dir / "prior_summary.json").read_text())
                                      if (run_dir / "prior_summary.json").exists() else prior)
        tokens0 = prior.get("training_tokens", 0)
        log(f"distill {args.name}: resumed at step {step}")
    tokens_per_step = args.batch * args.seq
    evalset = held[: min(held.size, 16 * (args.seq + 1) * 4)]

    def teacher_logp(b: dict) -> torch.Tensor:
        f = torch.from_numpy(b["hidden"].astype(np.float32))  # [B, S, H]
        with torch.no_grad():
            return F.log_softmax(f @ lm_head.t(), -1)  # [B, S, V]

    def cache_agreement() -> float:
        """Top-1 agreement with the target on the cached held-out windows."""
        model.eval()
        hits, n = 0, 0
        with torch.no_grad():
            for i in range(0, min(held_cache.windows, 32), 8):
                b = held_cache.batch(np.arange(i, min(i + 8, held_cache.windows)), args.seq,
                                     with_topk=True)
                x = torch.from_numpy(b["tokens"][:, :-1].astype(np.int64))
                pred = model(input_ids=x).logits.argmax(-1)
                gold = torch.from_numpy(b["topk_ids"][..., 0].astype(np.int64))
                hits += (pred == gold).sum().item()
                n += gold.numel()
        model.train()
        return hits / max(1, n)

    def save_state() -> None:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "history": history, "best": best, "elapsed": clock.elapsed(),
                    "prior": prior}, state_path)

    def export(dest: Path, final_eval: bool) -> dict:
        model.eval()
        summary = dict(prior)
        loss = heldout_loss(model, held, args.seq, args.eval_tokens) if final_eval else None
        model.train()
        summary.update({
            "name": args.name,
            "teacher": args.teacher,
            "objective": "distillation: 1.00 * KL(teacher || student) + 0.00 * CE",
            "continued_from": f"models/{args.init} ({tokens0} tokens, its own summary's history "
                              "first)",
            "distill_source": "feature cache (train.py features): the teacher's distribution "
                              "recomputed as lm_head(cached hidden state); corpus windows and "
                              "the teacher's greedy continuations (%s)" % args.fracs,
            "steps": prior.get("steps", 0) + step,
            "distill_steps": step,
            "planned_steps": None,
            "completed": False,
            "training_tokens": tokens0 + step * tokens_per_step,
            "wall_time_s": round(prior.get("wall_time_s", 0.0) + clock.elapsed(), 1),
            "distill_lr": args.lr,
            "reproduce": prior.get("reproduce", "") + f" && train.py distill --name {args.name} "
                         f"--init {args.init} --teacher {args.teacher} --batch {args.batch} "
                         f"--seq {args.seq} --lr {args.lr} --train-splits {args.train_splits} "
                         f"--fracs {args.fracs} --seed {args.seed} --steps {step}",
            "history": prior.get("history", []) + history,
        })
        if loss is not None:
            summary["heldout_loss"] = round(loss, 4)
            summary["heldout_perplexity"] = round(math.exp(loss), 3)
            summary["heldout_eval_tokens"] = int(
                min((held.size - 1) // args.seq, args.eval_tokens // args.seq) * args.seq)
        save_checkpoint(model, dest)
        (dest / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        return summary

    # A resumed run gets its budget on top of the time already trained.
    budget = clock.before + until_budget(args.until, args.max_minutes) * 60.0
    last_save = time.time()
    ema = None
    while clock.elapsed() < budget and (args.steps is None or step < args.steps):
        lr = time_lr(args.lr, step, args.warmup, clock.elapsed(), budget, args.decay_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([args.seed, step])
        b = train.batch(rng, args.batch, args.seq)
        x = torch.from_numpy(b["tokens"].astype(np.int64))  # [B, S + 1]
        t = teacher_logp(b)
        with autocast(args.precision):
            logits = model(input_ids=x[:, :-1]).logits  # [B, S, V]
        s = F.log_softmax(logits.float(), -1)
        kl = (t.exp() * (t - s)).sum(-1).mean()
        ce = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        kl.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = ce.item() if ema is None else 0.95 * ema + 0.05 * ce.item()
        if step % 10 == 0 or step == 1:
            rec = {"step": prior.get("steps", 0) + step,
                   "tokens": tokens0 + step * tokens_per_step, "train_ce": round(ce.item(), 4),
                   "train_ce_ema": round(ema, 4), "train_kl": round(kl.item(), 4), "lr": lr,
                   "elapsed_s": round(prior.get("wall_time_s", 0.0) + clock.elapsed(), 1),
                   "phase": "distill (feature cache)"}
            if step % args.eval_every == 0:
                model.eval()
                rec["heldout_ce"] = round(heldout_loss(model, evalset, args.seq, 10**9), 4)
                model.train()
                rec["heldout_cache_top1"] = round(cache_agreement(), 4)
                if best is None or rec["heldout_ce"] < best:
                    best = rec["heldout_ce"]
                    history.append(rec)
                    export(run_dir / "best", final_eval=False)
                    (run_dir / "best" / "step.json").write_text(json.dumps(rec) + "\n")
                    history.pop()
            history.append(rec)
            if step % 50 == 0 or "heldout_ce" in rec:
                log(f"distill {args.name}: {json.dumps(rec)}")
        if time.time() - last_save > args.save_minutes * 60:
            save_state()
            last_save = time.time()
            export(run_dir / "last", final_eval=False)  # promotable before the budget ends
    save_state()
    s = export(run_dir / "last", final_eval=True)
    log(f"distill {args.name}: done, {step} steps, held-out ppl {s['heldout_perplexity']}")
    if args.write_models:
        export(MODELS / args.name, final_eval=True)


def add_distill_parser(sp) -> None:
    c = sp.add_parser("distill", help="continue a draft by distillation from the feature cache")
    c.add_argument("--name", required=True, help="the draft's name (models/<name>)")
    c.add_argument("--init", required=True, help="start from models/<init>")
    c.add_argument("--teacher", default="bench-target")
    c.add_argument("--cache", default=None)
    c.add_argument("--train-splits", default="train,selfgen")
    c.add_argument("--fracs", default="selfgen=0.2")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--seq", type=int, default=256)
    c.add_argument("--lr", type=float, default=5e-4)
    c.add_argument("--warmup", type=int, default=50)
    c.add_argument("--weight-decay", type=float, default=0.1)
    c.add_argument("--steps", type=int, default=None)
    c.add_argument("--decay-frac", type=float, default=0.25)
    c.add_argument("--max-minutes", type=float, default=60.0)
    c.add_argument("--until", default=None)
    c.add_argument("--save-minutes", type=float, default=5.0)
    c.add_argument("--eval-every", type=int, default=200)
    c.add_argument("--eval-tokens", type=int, default=131072)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    c.add_argument("--resume", action="store_true")
    c.add_argument("--write-models", action="store_true")
    c.add_argument("--pid-file", default=str(RUNS / "train.pid"))
    c.set_defaults(func=cmd_distill)
