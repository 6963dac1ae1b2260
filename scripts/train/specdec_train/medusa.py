"""Medusa-1 heads on a frozen base: `medusa` (runs the base every step) and
`medusa-cache` (from the feature cache)."""

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
# Medusa


class ResBlock(nn.Module):
    """Medusa residual block: x + SiLU(W x + b), W zero-initialised (starts as identity)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, hidden)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.silu(self.linear(x))


class MedusaHeads(nn.Module):
    """Medusa-1 heads sharing the base LM head: logits_k = lm_head(ResBlock_k(h)).

    Tensor names: `medusa_head.{k}.0.linear.weight` [H, H], `medusa_head.{k}.0.linear.bias` [H].
    """

    def __init__(self, hidden: int, num_heads: int, num_layers: int = 1) -> None:
        super().__init__()
        self.medusa_head = nn.ModuleList([nn.Sequential(*[ResBlock(hidden)
                                                          for _ in range(num_layers)])
                                          for _ in range(num_heads)])

    def forward(self, hidden: torch.Tensor, lm_head: nn.Module) -> list[torch.Tensor]:
        return [lm_head(block(hidden)) for block in self.medusa_head]


def base_hidden_logits(base: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Last hidden states after the final norm `[B, S, H]` and logits `[B, S, vocab]`."""
    out = base.model(input_ids=ids)
    hidden = out.last_hidden_state
    return hidden, base.lm_head(hidden)


@torch.no_grad()
def generate_pool(base: nn.Module, data: np.ndarray, n: int, prompt_len: int, total_len: int,
                  seed: int, batch: int) -> torch.Tensor:
    """Continuations written by the base itself from corpus prompts: `[n, total_len]` i64.
    Half greedy, half sampled at temperature 1."""
    rng = np.random.default_rng([seed, 7])
    starts = rng.integers(0, data.size - prompt_len - 1, size=n)
    prompts = torch.from_numpy(np.stack([data[s:s + prompt_len] for s in starts]).astype(np.int64))
    rows = []
    for b0 in range(0, n, batch):
        p = prompts[b0:b0 + batch]
        sample = (b0 // batch) % 2 == 1
        torch.manual_seed(seed * 1000 + b0)
        ids = p
        past = None
        cur = p
        for _ in range(total_len - prompt_len):
            out = base(input_ids=cur, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[:, -1].float()  # [B, vocab]
            if sample:
                nxt = torch.multinomial(F.softmax(logits, -1), 1)
            else:
                nxt = logits.argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], 1)
            cur = nxt
        rows.append(ids)
    return torch.cat(rows, 0)


def medusa_loss(heads: MedusaHeads, base: nn.Module, ids: torch.Tensor,
                decay: float) -> tuple[torch.Tensor, list[float]]:
    """Head k at position t learns the base's own distribution for token t+k+2 (the base's
    logits at position t+k+1), KL(base || head)."""
    with torch.no_grad():
        hidden, logits = base_hidden_logits(base, ids)  # [B, S, H], [B, S, vocab]
    outs = heads(hidden.detach(), base.lm_head)
    S = ids.size(1)
    total = 0.0
    parts = []
    for k, head_logits in enumerate(outs):
        shift = k + 1
        kl = kl_loss(head_logits[:, :S - shift], logits[:, shift:])
        total = total + (decay ** k) * kl
        parts.append(round(kl.item(), 4))
    return total, parts


def cmd_medusa(args: argparse.Namespace) -> None:
    from safetensors.torch import save_file
    setup_torch(args.threads)
    seed_all(args.seed)
    base_dir = MODELS / args.base
    run_dir = RUNS / f"{args.base}-medusa"
    run_dir.mkdir(parents=True, exist_ok=True)
    base = load_model(base_dir, torch.float32)
    for p in base.parameters():
        p.requires_grad_(False)
    H = base.config.hidden_size
    heads = MedusaHeads(H, args.num_heads)
    opt = torch.optim.AdamW(heads.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    train = load_split("train")
    t0 = time.time()
    pool_path = run_dir / "pool.pt"
    if args.resume and pool_path.exists():
        pool = torch.load(pool_path)
    else:
        pool = generate_pool(base, train, args.gen_seqs, args.prompt_len,
                             args.seq, args.seed, args.gen_batch)
        torch.save(pool, pool_path)
    gen_time = time.time() - t0
    log(f"medusa {args.base}: self-generated pool {tuple(pool.shape)} in {gen_time:.0f}s")
    step, total_steps, history, elapsed_before = 0, args.steps, [], 0.0
    state_path = run_dir / "state.pt"
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        heads.load_state_dict(st["heads"])
        opt.load_state_dict(st["opt"])
        step, total_steps, history, elapsed_before = (st["step"], st["total_steps"],
                                                      st["history"], st["elapsed"])
    budget = args.max_minutes * 60.0
    t1 = time.time()
    last_save = t1
    measure_from = None
    while total_steps is None or step < total_steps:
        if total_steps is None and step == 3:
            measure_from = (time.time(), step)
        if total_steps is None and measure_from and step == measure_from[1] + 10:
            per_step = (time.time() - measure_from[0]) / 10
            total_steps = step + max(1, int((budget * 0.92 - (time.time() - t0)) / per_step))
            log(f"medusa {args.base}: {per_step * 1000:.0f} ms/step -> total_steps {total_steps}")
        if time.time() - t0 > budget:
            log(f"medusa {args.base}: wall-time budget reached at step {step}")
            break
        # Alternate self-generated sequences and corpus windows; targets are always the base's
        # own predictions.
        rng = np.random.default_rng([args.seed, step])
        if step % 2 == 0:
            rows = pool[torch.from_numpy(rng.integers(0, pool.size(0), size=args.batch))]
        else:
            rows = batch_at(train, step, args.seed, args.batch, args.seq - 1)
        lr = lr_at(step, total_steps or 10**9, args.lr, 20)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast(args.precision):
            loss, parts = medusa_loss(heads, base, rows, args.decay)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(heads.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 10 == 0 or step == 1:
            rec = {"step": step, "loss": round(loss.item(), 4), "head_kl": parts,
                   "elapsed_s": round(elapsed_before + time.time() - t1, 1)}
            history.append(rec)
            if step % 50 == 0:
                log(f"medusa {args.base}: {json.dumps(rec)}")
        if time.time() - last_save > args.save_minutes * 60:
            torch.save({"heads": heads.state_dict(), "opt": opt.state_dict(), "step": step,
                        "total_steps": total_steps, "history": history,
                        "elapsed": elapsed_before + time.time() - t1}, state_path)
            last_save = time.time()
    torch.save({"heads": heads.state_dict(), "opt": opt.state_dict(), "step": step,
                "total_steps": total_steps, "history": history,
                "elapsed": elapsed_before + time.time() - t1}, state_path)
    out = base_dir / "medusa"
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in heads.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architecture": "medusa-1",
        "medusa_num_heads": args.num_heads,
        "medusa_num_layers": 1,
        "hidden_size": H,
        "vocab_size": base.config.vocab_size,
        "shares_base_lm_head": True,
        "base_model": "..",
        "base_model_name": args.base,
        "head_offset": "head k (0-based) predicts the token k + 2 positions after the hidden "
                       "state's token",
        "block": "h_k = h + silu(h @ W_k^T + b_k); logits_k = base.lm_head(h_k)",
        "input": "base last hidden state after the final norm",
        "tensors": {"medusa_head.{k}.0.linear.weight": [H, H],
                    "medusa_head.{k}.0.linear.bias": [H]},
        "dtype": "float16",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    wall = elapsed_before + time.time() - t1 + gen_time
    summary = {"base": args.base, "num_heads": args.num_heads, "steps": step,
               "planned_steps": total_steps, "completed": bool(total_steps and step >= total_steps),
               "batch": args.batch, "seq_len": args.seq, "self_generated_sequences": args.gen_seqs,
               "training_tokens": step * args.batch * args.seq, "wall_time_s": round(wall, 1),
               "parameters": sum(p.numel() for p in heads.parameters()),
               "loss_decay": args.decay, "seed": args.seed, "history": history}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"medusa {args.base}: done, {step} steps, {wall:.0f}s -> {out}")


def load_medusa(base_dir: Path, sub: str = "medusa") -> MedusaHeads:
    from safetensors.torch import load_file
    cfg = json.loads((base_dir / sub / "config.json").read_text())
    heads = MedusaHeads(cfg["hidden_size"], cfg["medusa_num_heads"],
                        cfg.get("medusa_num_layers", 1))
    heads.load_state_dict({k: v.float() for k, v in
                           load_file(str(base_dir / sub / "model.safetensors")).items()})
    return heads.eval()




# ----------------------------------------------------------------------------------------------
# medusa-cache: heads trained from the feature cache (no base forward per step)


def medusa_cache_loss(heads: MedusaHeads, f: torch.Tensor, lm_head: torch.Tensor,
                      decay: float) -> tuple[torch.Tensor, list[float], list[float]]:
    """f `[B, S, H]`: cached hidden states. Head k at position t learns the base's distribution
    at t + k + 1 (for token t + k + 2): lm_head(f_(t+k+1)), soft cross-entropy (= KL + const)."""
    S = f.size(1)
    total = 0.0
    parts, accs = [], []
    with torch.no_grad():
        t_all = F.log_softmax((f.float() @ lm_head.t()), -1)  # [B, S, V]
    for k, block in enumerate(heads.medusa_head):
        shift = k + 1
        t = t_all[:, shift:]  # [B, S - shift, V]
        logits = (block(f[:, :S - shift]) @ lm_head.t().to(f.dtype)).float()
        logp = F.log_softmax(logits, -1)
        ce = -(t.exp() * logp).sum(-1).mean()
        kl = ce + (t.exp() * t).sum(-1).mean()
        total = total + (decay ** k) * ce
        parts.append(round(kl.item(), 4))
        accs.append(round((logits.argmax(-1) == t.argmax(-1)).float().mean().item(), 4))
    return total, parts, accs


def cmd_medusa_cache(args: argparse.Namespace) -> None:
    from .feature_cache import FeatureCache, Mixture, cache_dir_for
    from .train_loop import PauseTolerantClock, parse_fracs, time_lr, until_budget, write_pid
    setup_torch(args.threads)
    seed_all(args.seed)
    write_pid(args.pid_file)
    base_dir = MODELS / args.base
    base = load_model(base_dir, torch.float32)
    lm_head = base.get_output_embeddings().weight.detach().float()  # [V, H]
    H, V = base.config.hidden_size, base.config.vocab_size
    del base
    cache = FeatureCache(Path(args.cache) if args.cache else cache_dir_for(base_dir))
    train = Mixture(cache, args.train_splits.split(","), parse_fracs(args.fracs))
    held = cache.split("heldout")
    log(f"medusa-cache {args.base}: {train.describe()}, held-out {held.windows}")
    heads = MedusaHeads(H, args.num_heads, args.num_layers)
    prior = None
    if args.init:
        # Continue committed heads (same layout): their blocks, their summary's counts first.
        init = load_medusa(base_dir, args.init)
        heads.load_state_dict(init.state_dict())
        prior = json.loads((base_dir / args.init / "train_summary.json").read_text())
        log(f"medusa-cache {args.base}: continuing models/{args.base}/{args.init} "
            f"({prior.get('training_tokens', 0)} tokens)")
    tokens0 = (prior or {}).get("training_tokens", 0)
    opt = torch.optim.AdamW(heads.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    run_dir = RUNS / f"{args.base}-{args.out}"
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    step, history, best = 0, [], None
    clock = PauseTolerantClock()
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        heads.load_state_dict(st["heads"])
        opt.load_state_dict(st["opt"])
        step, history, best = st["step"], st["history"], st.get("best")
        clock.before = st["elapsed"]
        prior = st.get("prior") or (json.loads((run_dir / "prior_summary.json").read_text())
                                      if (run_dir / "prior_summary.json").exists() else prior)  # the heads this run started from, not a promoted result
        tokens0 = (prior or {}).get("training_tokens", 0)
        log(f"medusa-cache {args.base}: resumed at step {step}")

    def evaluate() -> dict:
        heads.eval()
        kls, accs, n = None, None, 0
        with torch.no_grad():
            for i in range(0, min(held.windows, args.eval_windows), args.batch):
                b = held.batch(np.arange(i, min(i + args.batch, held.windows, args.eval_windows)),
                               args.seq, with_topk=False)
                f = torch.from_numpy(b["hidden"].astype(np.float32))
                with autocast(args.precision):
                    _, parts, acc = medusa_cache_loss(heads, f, lm_head, args.decay)
                kls = parts if kls is None else [a + x for a, x in zip(kls, parts)]
                accs = acc if accs is None else [a + x for a, x in zip(accs, acc)]
                n += 1
        heads.train()
        return {"heldout_kl": [round(x / n, 4) for x in kls],
                "heldout_top1": [round(x / n, 4) for x in accs]}

    def export(dests: list[Path]) -> None:
        from safetensors.torch import save_file
        tensors = {k: v.detach().to(torch.float16).contiguous()
                   for k, v in heads.state_dict().items()}
        L = args.num_layers
        config = {
            "architecture": "medusa-1",
            "medusa_num_heads": args.num_heads,
            "medusa_num_layers": L,
            "hidden_size": H,
            "vocab_size": V,
            "shares_base_lm_head": True,
            "base_model": "..",
            "base_model_name": args.base,
            "head_offset": "head k (0-based) predicts the token k + 2 positions after the hidden "
                           "state's token",
            "block": "x_0 = h; x_(l+1) = x_l + silu(x_l @ W_(k,l)^T + b_(k,l)), l = 0..L-1; "
                     "logits_k = base.lm_head(x_L)",
            "input": "base last hidden state after the final norm",
            "tensors": {"medusa_head.{k}.{l}.linear.weight": [H, H],
                        "medusa_head.{k}.{l}.linear.bias": [H]},
            "dtype": "float16",
        }
        p0 = prior or {}
        summary = {"base": args.base, "num_heads": args.num_heads, "num_layers": L,
                   "steps": p0.get("steps", 0) + step, "cache_steps": step, "completed": False,
                   "batch": args.batch, "seq_len": args.seq,
                   "training_tokens": p0.get("training_tokens", 0) + step * args.batch * args.seq,
                   "wall_time_s": round(p0.get("wall_time_s", 0.0) + clock.elapsed(), 1),
                   "continued_from": (f"models/{args.base}/{args.init} ({p0.get('steps')} steps, "
                                      f"{p0.get('training_tokens')} tokens, base run every "
                                      "step)") if prior else None,
                   "parameters": sum(p.numel() for p in heads.parameters()),
                   "loss_decay": args.decay, "seed": args.seed, "lr": args.lr,
                   "source": "feature cache (train.py features): corpus windows and the base's "
                             "greedy continuations (%s)" % args.fracs,
                   "objective": "soft cross-entropy against lm_head(f_(t+k+1)) recomputed from "
                                "the cached hidden states, weight %s^k" % args.decay,
                   "reproduce": f"train.py medusa-cache --base {args.base} --num-layers {L} "
                                f"--batch {args.batch} --seq {args.seq} --lr {args.lr} "
                                f"--train-splits {args.train_splits} --fracs {args.fracs} "
                                f"--seed {args.seed}" + (f" --init {args.init}" if args.init else ""),
                   "history": history}
        for d in dests:
            d.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
            (d / "config.json").write_text(json.dumps(config, indent=2) + "\n")
            (d / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")

    # A resumed run gets its budget on top of the time already trained.
    budget = clock.before + until_budget(args.until, args.max_minutes) * 60.0
    last_save = time.time()
    if step == 0:
        history.append({"step": 0, "tokens": tokens0, "elapsed_s": 0.0, **evaluate()})
        log(f"medusa-cache {args.base}: {json.dumps(history[-1])}")
    while clock.elapsed() < budget and (args.steps is None or step < args.steps):
        lr = time_lr(args.lr, step, 50, clock.elapsed(), budget, args.decay_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([args.seed, step])
        b = train.batch(rng, args.batch, args.seq)
        f = torch.from_numpy(b["hidden"].astype(np.float32))  # [B, S, H]
        with autocast(args.precision):
            loss, parts, accs = medusa_cache_loss(heads, f, lm_head, args.decay)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(heads.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 10 == 0 or step == 1:
            rec = {"step": step, "tokens": tokens0 + step * args.batch * args.seq,
                   "loss": round(loss.item(), 4), "head_kl": parts, "head_top1": accs,
                   "elapsed_s": round(clock.elapsed(), 1)}
            if step % args.eval_every == 0:
                rec.update(evaluate())
                score = sum(rec["heldout_kl"])
                if best is None or score < best:
                    best = score
                    export([run_dir / "best"])
            history.append(rec)
            if step % 50 == 0 or "heldout_kl" in rec:
                log(f"medusa-cache {args.base}: {json.dumps(rec)}")
        if time.time() - last_save > args.save_minutes * 60:
            torch.save({"heads": heads.state_dict(), "opt": opt.state_dict(), "step": step,
                        "history": history, "best": best, "elapsed": clock.elapsed(), "prior": prior},
                       state_path)
            export([run_dir / "last"])
            last_save = time.time()
    torch.save({"heads": heads.state_dict(), "opt": opt.state_dict(), "step": step,
                "history": history, "best": best, "elapsed": clock.elapsed(), "prior": prior}, state_path)
    export([run_dir / "last"] + ([base_dir / args.out] if args.write_models else []))
    log(f"medusa-cache {args.base}: done at step {step} -> {run_dir}")


def add_cache_parser(sp) -> None:
    c = sp.add_parser("medusa-cache", help="train Medusa heads from the feature cache")
    c.add_argument("--base", required=True)
    c.add_argument("--out", default="medusa", help="folder under models/<base>/")
    c.add_argument("--cache", default=None)
    c.add_argument("--train-splits", default="train,selfgen")
    c.add_argument("--fracs", default="selfgen=0.3")
    c.add_argument("--num-heads", type=int, default=4)
    c.add_argument("--num-layers", type=int, default=1, help="residual blocks per head")
    c.add_argument("--init", default=None,
                   help="continue the heads in models/<base>/<INIT> (same layout)")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--seq", type=int, default=256)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--decay", type=float, default=0.8)
    c.add_argument("--steps", type=int, default=None)
    c.add_argument("--max-minutes", type=float, default=60.0)
    c.add_argument("--until", default=None)
    c.add_argument("--decay-frac", type=float, default=0.25)
    c.add_argument("--save-minutes", type=float, default=5.0)
    c.add_argument("--eval-every", type=int, default=200)
    c.add_argument("--eval-windows", type=int, default=64)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    c.add_argument("--resume", action="store_true")
    c.add_argument("--write-models", action="store_true")
    c.add_argument("--pid-file", default=str(RUNS / "train.pid"))
    c.set_defaults(func=cmd_medusa_cache)
