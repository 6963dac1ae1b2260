"""EAGLE-1 heads: one Llama decoder layer that drafts from the target's own hidden states.

Layout (`models/<base>/eagle/`): `config.json` (`architecture: "eagle-1"`, sizes, `base_model`,
`shares_base_lm_head`, `shares_base_embeddings`) and `model.safetensors` (float16):

  fc.weight [H, 2H], fc.bias [H]                      x_t = fc(concat([embed(token_{t+1}), f_t]))
  layers.0.input_layernorm.weight [H]                 optional; absent: no norm before attention
  layers.0.self_attn.{q,k,v,o}_proj.weight            Llama attention (GQA, rotary at position t)
  layers.0.post_attention_layernorm.weight [H]
  layers.0.mlp.{gate,up,down}_proj.weight             SiLU-gated MLP
  norm.weight [H]                                     optional; logits = lm_head(rmsnorm(h_t))

`f_t` is the base's last hidden state after its final norm at position t; `h_t` (the layer's
output, causal attention over the head's own KV cache) predicts `f_{t+1}` and is fed back as the
next step's feature; `embed` and `lm_head` are the base's own tables (not stored again).

Training (`train.py eagle`) reads the feature cache (no base forward per step): smooth-L1
regression of h_t to f_{t+1} plus a weighted soft cross-entropy of lm_head(h_t) against the base's
distribution at t+1, with uniform noise on the input features and an unrolled "training-time
test": pass p feeds back pass p-1's outputs, attending to true-feature keys for the accepted
prefix and to its own earlier passes, exactly as drafting step p does.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import MODELS, RUNS, autocast, log, seed_all, setup_torch
from .models import load_model
from .train_loop import PauseTolerantClock, parse_fracs, time_lr, until_budget, write_pid


# ----------------------------------------------------------------------------------------------
# the head


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotary(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Llama (Hugging Face) rotary tables for `positions` [S]: cos, sin `[S, head_dim]` f32."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = positions.float()[:, None] * inv[None, :]  # [S, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [S, hd]
    return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, c: dict) -> None:
        super().__init__()
        H, nh, nkv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], \
            c["head_dim"]
        self.nh, self.nkv, self.hd = nh, nkv, hd
        self.q_proj = nn.Linear(H, nh * hd, bias=False)
        self.k_proj = nn.Linear(H, nkv * hd, bias=False)
        self.v_proj = nn.Linear(H, nkv * hd, bias=False)
        self.o_proj = nn.Linear(nh * hd, H, bias=False)

    def qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Rotated q `[B, nh, S, hd]`, k and v `[B, nh, S, hd]` (KV heads repeated)."""
        B, S, _ = x.shape
        q = self.q_proj(x).view(B, S, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        return q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)

    def out(self, o: torch.Tensor) -> torch.Tensor:
        B, _, S, _ = o.shape
        return self.o_proj(o.transpose(1, 2).reshape(B, S, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c: dict) -> None:
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(H, I, bias=False)
        self.up_proj = nn.Linear(H, I, bias=False)
        self.down_proj = nn.Linear(I, H, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: dict, input_norm: bool) -> None:
        super().__init__()
        eps = c["rms_norm_eps"]
        self.input_layernorm = RMSNorm(c["hidden_size"], eps) if input_norm else None
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], eps)
        self.mlp = MLP(c)

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.input_layernorm(x) if self.input_layernorm is not None else x

    def post(self, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn.out(attn)
        return x + self.mlp(self.post_attention_layernorm(x))


class EagleHead(nn.Module):
    """fc + one decoder layer (+ optional final norm). The base's embeddings and LM head are
    passed in, never owned."""

    def __init__(self, c: dict) -> None:
        super().__init__()
        H = c["hidden_size"]
        self.c = c
        self.fc = nn.Linear(2 * H, H, bias=c.get("fc_bias", True))
        self.layers = nn.ModuleList([DecoderLayer(c, c.get("input_layernorm", False))])
        self.norm = RMSNorm(H, c["rms_norm_eps"]) if c.get("final_norm", False) else None

    def init_weights(self, seed: int) -> None:
        """Small random weights; fc starts by passing the feature through (x_t = f_t + small
        token term), so the untrained head predicts "next feature = this feature"."""
        g = torch.Generator().manual_seed(seed)
        H = self.c["hidden_size"]
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif p.dim() == 2:
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            else:
                nn.init.zeros_(p)
        with torch.no_grad():
            self.fc.weight[:, H:] += torch.eye(H)
            std = 0.02 / math.sqrt(2.0)
            layer = self.layers[0]
            layer.self_attn.o_proj.weight.mul_(std / 0.02)
            layer.mlp.down_proj.weight.mul_(std / 0.02)

    def logits(self, h: torch.Tensor, lm_head: torch.Tensor) -> torch.Tensor:
        """Draft logits `[..., V]` from h `[..., H]`; `lm_head` `[V, H]`."""
        if self.norm is not None:
            h = self.norm(h)
        return h @ lm_head.t().to(h.dtype)

    def forward(self, feats: torch.Tensor, next_emb: torch.Tensor, depth: int = 1,
                noise: float = 0.0) -> list[torch.Tensor]:
        """Unrolled drafting over every position of a window.

        feats `[B, S, H]`: the base's f_t; next_emb `[B, S, H]`: embed(token_{t+1}).
        Returns `depth` outputs `[B, S, H]`: output p (0-based) at position u is what drafting
        step p+1 produces there when started from the true feature at position u - p, i.e.
        the prediction of f_{u+1} after p fed-back steps. Output p at u < p is not valid.
        """
        B, S, H = feats.shape
        layer = self.layers[0]
        cos, sin = rotary(torch.arange(S), self.c["head_dim"], self.c["rope_theta"])
        scale = 1.0 / math.sqrt(self.c["head_dim"])
        f = feats
        if noise > 0:
            f = f + (torch.rand_like(f) - 0.5) * noise
        outs = []
        ks, vs = [], []  # per pass: [B, nh, S, hd]
        cur = f
        idx = torch.arange(S)
        for p in range(depth):
            x = self.fc(torch.cat([next_emb, cur], dim=-1))  # [B, S, H]
            q, k, v = layer.self_attn.qkv(layer.pre(x), cos, sin)
            ks.append(k)
            vs.append(v)
            # Keys of pass 1 (true features) at positions j <= u - p; then one key per earlier
            # pass q = 1..p at position u - p + q (the chain's own fed-back steps).
            s1 = (q @ ks[0].transpose(-1, -2)) * scale  # [B, nh, S, S]
            mask = idx[None, :] <= (idx[:, None] - p)  # [S, S]
            s1 = s1.masked_fill(~mask, float("-inf"))
            diag_s, diag_v = [], []
            for qq in range(1, p + 1):
                shift = p - qq  # key of pass qq at position u - shift
                kk = torch.roll(ks[qq], shifts=shift, dims=2)
                vv = torch.roll(vs[qq], shifts=shift, dims=2)
                diag_s.append(((q * kk).sum(-1, keepdim=True)) * scale)  # [B, nh, S, 1]
                diag_v.append(vv)
            if diag_s:
                scores = torch.cat([s1] + diag_s, dim=-1)
                w = torch.softmax(scores.float(), dim=-1).to(q.dtype)
                w = torch.nan_to_num(w)
                o = w[..., :S] @ vs[0]
                for i, vv in enumerate(diag_v):
                    o = o + w[..., S + i:S + i + 1] * vv
            else:
                w = torch.softmax(s1.float(), dim=-1).to(q.dtype)
                o = w @ vs[0]
            h = layer.post(x, o)  # [B, S, H]
            outs.append(h)
            # Next pass at position u reads this pass's output at u - 1.
            cur = torch.cat([f[:, :1], h[:, :-1]], dim=1)
        return outs


def eagle_config(base_cfg: dict, base_name: str, **extra) -> dict:
    c = {
        "architecture": "eagle-1",
        "base_model": "..",
        "base_model_name": base_name,
        "hidden_size": base_cfg["hidden_size"],
        "vocab_size": base_cfg["vocab_size"],
        "num_attention_heads": base_cfg["num_attention_heads"],
        "num_key_value_heads": base_cfg["num_key_value_heads"],
        "head_dim": base_cfg.get("head_dim",
                                 base_cfg["hidden_size"] // base_cfg["num_attention_heads"]),
        "intermediate_size": base_cfg["intermediate_size"],
        "rms_norm_eps": float(base_cfg.get("rms_norm_eps", 1e-5)),
        "rope_theta": float(base_cfg.get("rope_theta", 10000.0)),
        "max_position_embeddings": base_cfg.get("max_position_embeddings", 2048),
        "shares_base_lm_head": True,
        "shares_base_embeddings": True,
        "dtype": "float16",
        "num_layers": 1,
        "input_layernorm": False,
        "final_norm": False,
        "fc_bias": True,
    }
    c.update(extra)
    return c


DESCRIPTION = {
    "input": "x_t = fc(concat([embed(token_{t+1}), f_t])); f_t = base last hidden state after "
             "its final norm at position t; embed = the base's embedding table",
    "layer": "one Llama decoder layer (layers.0), causal attention over the head's own KV "
             "cache, rotary at position id t; no input_layernorm tensor = no norm before "
             "attention (EAGLE-1)",
    "output": "h_t predicts f_{t+1} and is fed back as the next step's feature; draft logits "
              "= base.lm_head(h_t), or base.lm_head(rmsnorm(h_t; norm.weight)) when norm.weight "
              "exists",
}


def save_eagle(head: EagleHead, out: Path, config: dict) -> None:
    from safetensors.torch import save_file
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = dict(config)
    cfg.update(DESCRIPTION)
    cfg["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def load_eagle(base_dir: Path, sub: str = "eagle") -> EagleHead:
    from safetensors.torch import load_file
    d = base_dir / sub
    c = json.loads((d / "config.json").read_text())
    sd = load_file(str(d / "model.safetensors"))
    c = dict(c, input_layernorm="layers.0.input_layernorm.weight" in sd,
             final_norm="norm.weight" in sd, fc_bias="fc.bias" in sd)
    head = EagleHead(c)
    head.load_state_dict({k: v.float() for k, v in sd.items()})
    return head.eval()


def base_tables(base: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The base's embedding table and LM head, `[V, H]` f32 each (frozen)."""
    emb = base.get_input_embeddings().weight.detach().float()
    lm = base.get_output_embeddings().weight.detach().float()
    return emb, lm


# ----------------------------------------------------------------------------------------------
# eagle-init: random weights for tests


def cmd_eagle_init(args: argparse.Namespace) -> None:
    base_dir = MODELS / args.base
    base_cfg = json.loads((base_dir / "config.json").read_text())
    c = eagle_config(base_cfg, args.base, input_layernorm=args.input_norm,
                     final_norm=args.final_norm,
                     description="random weights (seed %d) for tests; not trained" % args.seed)
    head = EagleHead(c)
    # Random weights at unit scale (no pass-through of the feature), so every tensor changes
    # the drafts: matrices N(0, 1/fan_in), norms 1 + N(0, 0.1^2), biases N(0, 0.1^2).
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, p in head.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            else:
                base = 1.0 if name.endswith("norm.weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
    save_eagle(head, base_dir / args.out, c)
    summary = {"base": args.base, "trained": False, "seed": args.seed,
               "parameters": sum(p.numel() for p in head.parameters()),
               "reproduce": f"train.py eagle-init --base {args.base} --seed {args.seed}"
                            + (" --input-norm" if args.input_norm else "")
                            + (" --final-norm" if args.final_norm else "")}
    (base_dir / args.out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"eagle-init {args.base}: {summary['parameters']} params -> {base_dir / args.out}")


# ----------------------------------------------------------------------------------------------
# eagle: training from the feature cache


def eagle_loss(head: EagleHead, feats: torch.Tensor, next_emb: torch.Tensor,
               target_f: torch.Tensor, teacher_logp: torch.Tensor | None,
               topk: tuple[torch.Tensor, torch.Tensor] | None, lm_head: torch.Tensor,
               args: argparse.Namespace) -> tuple[torch.Tensor, dict]:
    """feats, next_emb, target_f `[B, S, H]`; teacher_logp `[B, S, V]` (full, log-softmax of the
    base at t+1) or topk (values, ids `[B, S, k]`)."""
    outs = head(feats, next_emb, depth=args.depth, noise=args.noise)
    total = 0.0
    parts = {"reg": [], "ce": [], "acc": []}
    for p, h in enumerate(outs):
        hv, tv = h[:, p:], target_f[:, p:]
        reg = F.smooth_l1_loss(hv.float(), tv.float())
        if teacher_logp is not None:
            logits = head.logits(hv, lm_head).float()  # [B, S - p, V]
            logp = F.log_softmax(logits, -1)
            t = teacher_logp[:, p:]
            ce = -(t.exp() * logp).sum(-1).mean()
            acc = (logits.argmax(-1) == t.argmax(-1)).float().mean()
        else:
            # Sampled softmax: the base's top-k ids at t+1 plus `negatives` random ids shared by
            # the batch; the student's softmax over that set against the base's top-k
            # distribution (the negatives' target is 0). No [V, H] product per position.
            vals, ids = topk[0][:, p:], topk[1][:, p:]  # [B, S', k]
            neg = topk[2]  # [n] i64
            cand_w = lm_head[ids]  # [B, S', k, H]
            hd = hv.float() if head.norm is None else head.norm(hv).float()
            lk = (cand_w * hd.unsqueeze(-2)).sum(-1)  # [B, S', k]
            ln = hd @ lm_head[neg].t()  # [B, S', n]
            logp_all = F.log_softmax(torch.cat([lk, ln], -1), -1)
            tp = torch.softmax(vals.float(), -1)
            ce = -(tp * logp_all[..., :lk.size(-1)]).sum(-1).mean()
            with torch.no_grad():
                acc = (lk.argmax(-1) == 0).float().mean()
        w = args.depth_decay ** p
        total = total + w * (args.w_reg * reg + args.w_ce * ce)
        parts["reg"].append(round(reg.item(), 4))
        parts["ce"].append(round(ce.item(), 4))
        parts["acc"].append(round(acc.item(), 4))
    return total, parts


def cmd_eagle(args: argparse.Namespace) -> None:
    from .feature_cache import FeatureCache, Mixture, cache_dir_for
    setup_torch(args.threads)
    seed_all(args.seed)
    write_pid(args.pid_file)
    base_dir = MODELS / args.base
    base = load_model(base_dir, torch.float32)
    emb, lm_head = base_tables(base)
    del base
    cache = FeatureCache(Path(args.cache) if args.cache else cache_dir_for(base_dir))
    train = Mixture(cache, args.train_splits.split(","), parse_fracs(args.fracs))
    held = cache.split("heldout")
    log(f"eagle {args.base}: cache {cache.root}: {train.describe()}, held-out {held.windows}")
    base_cfg = json.loads((base_dir / "config.json").read_text())
    c = eagle_config(base_cfg, args.base, input_layernorm=args.input_norm,
                     final_norm=args.final_norm)
    head = EagleHead(c)
    head.init_weights(args.seed)
    decay = [p for n, p in head.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in head.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    run_dir = RUNS / f"{args.base}-{args.out}"
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    step, history, best = 0, [], None
    clock = PauseTolerantClock()
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        head.load_state_dict(st["head"])
        opt.load_state_dict(st["opt"])
        step, history, best = st["step"], st["history"], st.get("best")
        clock.before = st["elapsed"]
        log(f"eagle {args.base}: resumed at step {step}")

    def save_state() -> None:
        torch.save({"head": head.state_dict(), "opt": opt.state_dict(), "step": step,
                    "history": history, "best": best, "elapsed": clock.elapsed(),
                    "args": vars(args)}, state_path)

    def evaluate() -> dict:
        head.eval()
        tot = {"reg": 0.0, "ce": 0.0}
        accs = None
        n = 0
        with torch.no_grad():
            for i in range(0, min(held.windows, args.eval_windows), args.batch):
                b = held.batch(np.arange(i, min(i + args.batch, held.windows, args.eval_windows)),
                               args.seq)
                feats, nemb, tf, tlp, topk = prepare(b, teacher="full")
                with autocast(args.precision):
                    _, parts = eagle_loss(head, feats, nemb, tf, tlp, topk, lm_head,
                                          argparse.Namespace(**{**vars(args), "noise": 0.0,
                                                                "depth": 5}))
                tot["reg"] += parts["reg"][0]
                tot["ce"] += parts["ce"][0]
                accs = parts["acc"] if accs is None else [a + x for a, x in zip(accs, parts["acc"])]
                n += 1
        head.train()
        return {"heldout_reg": round(tot["reg"] / n, 4), "heldout_ce": round(tot["ce"] / n, 4),
                "heldout_top1_by_step": [round(a / n, 4) for a in accs]}

    def prepare(b: dict, teacher: str | None = None):
        ids = torch.from_numpy(b["tokens"].astype(np.int64))  # [B, S + 1]
        f = torch.from_numpy(b["hidden"].astype(np.float32))  # [B, S, H]
        feats = f[:, :-1]
        tf = f[:, 1:]
        nemb = emb[ids[:, 1:-1]]  # embed(token_{t+1}) for t = 0..S-2: [B, S - 1, H]
        if (teacher or args.teacher) == "full":
            with torch.no_grad():
                tlp = F.log_softmax(tf @ lm_head.t(), -1)  # [B, S - 1, V]
            topk = None
        else:
            tlp = None
            neg = torch.from_numpy(np.random.default_rng([args.seed, step, 3]).choice(
                lm_head.size(0), size=args.negatives, replace=False).astype(np.int64))
            topk = (torch.from_numpy(b["topk_values"][:, 1:].astype(np.float32)),
                    torch.from_numpy(b["topk_ids"][:, 1:].astype(np.int64)), neg)
        return feats, nemb, tf, tlp, topk

    # A resumed run gets its budget on top of the time already trained.
    budget = clock.before + until_budget(args.until, args.max_minutes) * 60.0
    last_save = time.time()
    rng = np.random.default_rng([args.seed, 11])
    if step == 0:
        rec = {"step": 0, "elapsed_s": 0.0, **evaluate()}
        history.append(rec)
        log(f"eagle {args.base}: {json.dumps(rec)}")
    head.train()
    while clock.elapsed() < budget and (args.steps is None or step < args.steps):
        lr = time_lr(args.lr, step, args.warmup, clock.elapsed(), budget, args.decay_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([args.seed, step])
        b = train.batch(rng, args.batch, args.seq)
        feats, nemb, tf, tlp, topk = prepare(b)
        with autocast(args.precision):
            loss, parts = eagle_loss(head, feats, nemb, tf, tlp, topk, lm_head, args)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 10 == 0 or step == 1:
            rec = {"step": step, "tokens": step * args.batch * (args.seq - 1),
                   "loss": round(loss.item(), 4), "lr": lr, **{f"train_{k}": v for k, v in parts.items()},
                   "elapsed_s": round(clock.elapsed(), 1)}
            if step % args.eval_every == 0:
                rec.update(evaluate())
                score = rec["heldout_ce"]
                if best is None or score < best:
                    best = score
                    history.append(rec)
                    export(head, c, args, step, history, clock, run_dir, base_dir, final=False,
                           dests=[run_dir / "best"])
                    history.pop()
                    (run_dir / "best" / "step.json").write_text(json.dumps(rec) + "\n")
            history.append(rec)
            if step % 50 == 0 or "heldout_ce" in rec:
                log(f"eagle {args.base}: {json.dumps(rec)}")
        if time.time() - last_save > args.save_minutes * 60:
            save_state()
            last_save = time.time()
            export(head, c, args, step, history, clock, run_dir, base_dir, final=False)
    save_state()
    export(head, c, args, step, history, clock, run_dir, base_dir, final=True)


def export(head: EagleHead, c: dict, args: argparse.Namespace, step: int, history: list,
           clock, run_dir: Path, base_dir: Path, final: bool, dests: list | None = None) -> None:
    """Writes the current head to runs/<base>-<out>/last/ (and, at the end, models/<base>/<out>/
    when --write-models is given) with its train_summary.json."""
    dests = dests or [run_dir / "last"]
    if final and args.write_models:
        dests.append(base_dir / args.out)
    summary = {
        "base": args.base, "architecture": "eagle-1", "trained": True,
        "parameters": sum(p.numel() for p in head.parameters()),
        "steps": step, "batch": args.batch, "seq_len": args.seq - 1,
        "training_tokens": step * args.batch * (args.seq - 1),
        "wall_time_s": round(clock.elapsed(), 1),
        "objective": f"{args.w_reg} * smooth-L1(h_t, f_(t+1)) + {args.w_ce} * soft CE against the "
                     f"base at t+1 ({args.teacher} distribution from the feature cache"
                     + (f", sampled softmax over the top-k ids and {args.negatives} random ids"
                        if args.teacher == "topk" else "") + "), "
                     f"unrolled {args.depth} drafting steps (weight {args.depth_decay}^p), "
                     f"uniform input noise of width {args.noise}",
        "peak_lr": args.lr, "seed": args.seed, "threads": args.threads,
        "precision": args.precision, "feature_cache": "train.py features (see models/README.md)",
        "reproduce": "train.py eagle " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (
            ("base", args.base), ("batch", args.batch), ("seq", args.seq), ("lr", args.lr),
            ("depth", args.depth), ("noise", args.noise), ("w-reg", args.w_reg),
            ("w-ce", args.w_ce), ("teacher", args.teacher), ("seed", args.seed),
            ("steps", step))),
        "history": history,
    }
    for d in dests:
        save_eagle(head, d, c)
        (d / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"eagle {args.base}: step {step} written to {', '.join(str(d) for d in dests)}")


def add_parsers(sp) -> None:
    c = sp.add_parser("eagle-init", help="a random-weight EAGLE head for tests")
    c.add_argument("--base", required=True)
    c.add_argument("--out", default="eagle")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--input-norm", action="store_true")
    c.add_argument("--final-norm", action="store_true")
    c.set_defaults(func=cmd_eagle_init)

    c = sp.add_parser("eagle-selftest", help="check the EAGLE head against transformers and "
                                             "step-by-step drafting")
    c.set_defaults(func=cmd_selftest)

    c = sp.add_parser("eagle", help="train an EAGLE-1 head from the feature cache")
    c.add_argument("--base", required=True)
    c.add_argument("--out", default="eagle", help="folder under models/<base>/")
    c.add_argument("--cache", default=None, help="feature cache folder (default: SPECDEC_FEATURES)")
    c.add_argument("--train-splits", default="train,selfgen")
    c.add_argument("--fracs", default="selfgen=0.3", help="fixed batch shares, e.g. selfgen=0.3")
    c.add_argument("--until", default=None, help="HH:MM local: the budget ends then")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--seq", type=int, default=256, help="cached positions per sample")
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--warmup", type=int, default=50)
    c.add_argument("--weight-decay", type=float, default=0.0)
    c.add_argument("--depth", type=int, default=2, help="unrolled drafting steps in training")
    c.add_argument("--depth-decay", type=float, default=0.8)
    c.add_argument("--noise", type=float, default=0.2, help="uniform input noise width")
    c.add_argument("--w-reg", type=float, default=1.0)
    c.add_argument("--w-ce", type=float, default=0.1)
    c.add_argument("--teacher", choices=["full", "topk"], default="full",
                   help="full: the base's distribution recomputed as lm_head(f_(t+1)) from the "
                        "cached hidden state; topk: the cached top-k logits, the student's "
                        "softmax over those ids plus --negatives random ids (cheaper)")
    c.add_argument("--negatives", type=int, default=256)
    c.add_argument("--input-norm", action="store_true")
    c.add_argument("--final-norm", action="store_true")
    c.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    c.add_argument("--decay-frac", type=float, default=0.25,
                   help="linear decay to 10%% over this last fraction of the budget")
    c.add_argument("--max-minutes", type=float, default=30.0)
    c.add_argument("--save-minutes", type=float, default=5.0)
    c.add_argument("--eval-every", type=int, default=200)
    c.add_argument("--eval-windows", type=int, default=64)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    c.add_argument("--resume", action="store_true")
    c.add_argument("--write-models", action="store_true",
                   help="at the end, also write models/<base>/<out>/ (else runs/ only)")
    c.add_argument("--pid-file", default=str(RUNS / "train.pid"))
    c.set_defaults(func=cmd_eagle)


# ----------------------------------------------------------------------------------------------
# selftest: the head's semantics, checked against transformers and against step-by-step drafting


@torch.no_grad()
def cmd_selftest(args: argparse.Namespace) -> None:
    """(1) The head's layer equals transformers' LlamaDecoderLayer (no input norm);
    (2) the unrolled training forward equals drafting one step at a time with a growing KV,
    so training, `agreement` and `reference` all see what drafting computes."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding
    torch.manual_seed(0)
    base_cfg = json.loads((MODELS / "tiny-target" / "config.json").read_text())
    c = eagle_config(base_cfg, "tiny-target", input_layernorm=False)
    head = EagleHead(c)
    head.init_weights(0)
    for p in head.parameters():
        p.add_(0.05 * torch.randn_like(p))
    H = c["hidden_size"]
    cfg = LlamaConfig(hidden_size=H, intermediate_size=c["intermediate_size"],
                      num_attention_heads=c["num_attention_heads"],
                      num_key_value_heads=c["num_key_value_heads"], head_dim=c["head_dim"],
                      rms_norm_eps=c["rms_norm_eps"], rope_theta=c["rope_theta"], vocab_size=16)
    cfg._attn_implementation = "eager"
    ref = LlamaDecoderLayer(cfg, 0)
    sd = {k[len("layers.0."):]: v for k, v in head.state_dict().items() if k.startswith("layers.0.")}
    ref.load_state_dict(sd, strict=False)
    ref.input_layernorm = nn.Identity()
    S = 11
    f = torch.randn(1, S, H)
    e = torch.randn(1, S, H)
    x = head.fc(torch.cat([e, f], -1))
    pos = torch.arange(S)[None]
    cos, sin = LlamaRotaryEmbedding(cfg)(x, pos)
    mask = torch.full((S, S), float("-inf")).triu(1)[None, None]
    out = ref(x, attention_mask=mask, position_ids=pos, position_embeddings=(cos, sin))
    out = out[0] if isinstance(out, tuple) else out
    d1 = (head(f, e, depth=1)[0] - out).abs().max().item()
    log(f"selftest: head layer vs transformers LlamaDecoderLayer: max |diff| {d1:.2e}")
    assert d1 < 1e-4, d1
    depth = 4
    outs = head(f, e, depth=depth)
    worst = 0.0
    for p in range(depth):
        for u in range(p, S):
            t = u - p
            F_ = [f[0, i] for i in range(t + 1)]
            E_ = [e[0, i] for i in range(t + 1)]
            h = head(torch.stack(F_)[None], torch.stack(E_)[None], depth=1)[0][0, -1]
            for q in range(1, p + 1):
                F_.append(h)
                E_.append(e[0, t + q])
                h = head(torch.stack(F_)[None], torch.stack(E_)[None], depth=1)[0][0, -1]
            worst = max(worst, (h - outs[p][0, u]).abs().max().item())
    log(f"selftest: unrolled training forward vs step-by-step drafting: max |diff| {worst:.2e}")
    assert worst < 1e-4, worst
    log("selftest: ok")
