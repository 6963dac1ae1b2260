"""Held-out agreement (draft, Medusa, EAGLE), reference fixtures and checkpoint checks."""

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
from .medusa import load_medusa, base_hidden_logits

# ----------------------------------------------------------------------------------------------
# agreement


@torch.no_grad()
def greedy_paths(model: nn.Module, prompts: torch.Tensor, new: int) -> torch.Tensor:
    """Greedy continuation (fp32, KV cache, EOS not treated as a stop): `[B, P + new]` i64."""
    ids, cur, past = prompts, prompts, None
    for _ in range(new):
        out = model(input_ids=cur, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].float().argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
        cur = nxt
    return ids


def chain_stats(match: np.ndarray, depth: int) -> dict:
    """`match[b, j]`: proposal j is right given the target's greedy prefix. Statistics of chains
    starting at every position with `depth` more positions available."""
    B, J = match.shape
    starts = [(b, s) for b in range(B) for s in range(J - depth + 1)]
    prefix_all = []
    cond = []
    for i in range(1, depth + 1):
        all_i = np.array([match[b, s:s + i].all() for b, s in starts])
        prev = np.array([match[b, s:s + i - 1].all() for b, s in starts])
        prefix_all.append(float(all_i.mean()))
        cond.append(float(all_i.sum() / max(1, prev.sum())))
    expected = [round(1 + sum(prefix_all[:g]), 4) for g in range(1, depth + 1)]
    return {"chains": len(starts), "token_match_rate": round(float(match.mean()), 4),
            "position_match_rate": [round(c, 4) for c in cond],
            "prefix_all_match_rate": [round(p, 4) for p in prefix_all],
            "expected_tokens_per_target_step": expected}


def eval_prompts(n: int, length: int, seed: int) -> torch.Tensor:
    held = load_split("heldout")
    rng = np.random.default_rng([seed, 99])
    starts = rng.integers(0, held.size - length - 1, size=n)
    return torch.from_numpy(np.stack([held[s:s + length] for s in starts]).astype(np.int64))


def cmd_agreement(args: argparse.Namespace) -> None:
    setup_torch(args.threads)
    target_dir = MODELS / args.target
    target = load_model(target_dir)
    prompts = eval_prompts(args.prompts, args.prompt_len, args.seed)  # [N, P]
    depth = 5
    # The target's greedy paths, kept in runs/ per target weights and settings (the costly part).
    from .feature_cache import file_sha256
    sha = file_sha256(target_dir / "model.safetensors")[:16]
    cache = RUNS / "agreement" / (f"{args.target}-{sha}-n{args.prompts}-p{args.prompt_len}-"
                                  f"new{args.new}-s{args.seed}.pt")
    if cache.exists():
        paths = torch.load(cache)
    else:
        paths = greedy_paths(target, prompts, args.new)  # [N, P + new]
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(paths, cache)
    assert torch.equal(paths[:, :args.prompt_len], prompts)
    P = args.prompt_len
    result = {"target": args.target, "prompts": args.prompts, "prompt_len": P,
              "new_tokens": args.new, "source": "held-out split, random windows (seed %d)" % args.seed,
              "method": "target greedy path; proposal j counted right when it equals the target's "
                        "greedy token given the target's own prefix"}
    if args.draft:
        draft = load_model(MODELS / args.draft)
        d_logits = draft(input_ids=paths[:, :-1]).logits.float()  # [N, P + new - 1, vocab]
        pred = d_logits[:, P - 1:].argmax(-1)  # [N, new]: draft's guess for path[P + j]
        match = (pred == paths[:, P:]).numpy()
        result["draft"] = args.draft
        result["draft_target"] = chain_stats(match, depth)
        result["draft_target"]["target_greedy_distinct_tokens"] = int(
            np.unique(paths[:, P:].numpy()).size)
        log(f"agreement {args.draft} vs {args.target}: {json.dumps(result['draft_target'])}")
        (MODELS / args.draft / "agreement.json").write_text(json.dumps(result, indent=1) + "\n")
    if getattr(args, "eagle", None):
        result_e = dict(result)
        result_e["eagle"] = eagle_agreement(target, target_dir, paths, P, args.new, args.eagle)
        log(f"agreement eagle {args.target}: {json.dumps(result_e['eagle'])}")
        (target_dir / args.eagle / "agreement.json").write_text(
            json.dumps(result_e, indent=1) + "\n")
    if args.medusa:
        heads = load_medusa(target_dir, getattr(args, "medusa_dir", "medusa"))
        hidden, _ = base_hidden_logits(target, paths)  # [N, P + new, H]
        outs = heads(hidden, target.lm_head)
        K = len(outs)
        new = args.new
        # Hidden at position p = P - 1 + s; head k guesses path[p + k + 2].
        per_start = []
        for s in range(new - K - 1):
            p = P - 1 + s
            per_start.append([(outs[k][:, p].argmax(-1) == paths[:, p + k + 2]).numpy()
                              for k in range(K)])
        m = np.array(per_start)  # [starts, K, N]
        head_rate = [round(float(m[:, k].mean()), 4) for k in range(K)]
        cond, prefix = [], []
        for k in range(K):
            all_k = m[:, :k + 1].all(1)
            prev = m[:, :k].all(1) if k > 0 else np.ones_like(all_k)
            prefix.append(round(float(all_k.mean()), 4))
            cond.append(round(float(all_k.sum() / max(1, prev.sum())), 4))
        top5 = []
        for k in range(K):
            hits = []
            for s in range(new - K - 1):
                p = P - 1 + s
                top = outs[k][:, p].topk(5, -1).indices
                hits.append((top == paths[:, p + k + 2, None]).any(-1).numpy())
            top5.append(round(float(np.mean(hits)), 4))
        result["medusa"] = {
            "chains": int(m.shape[0] * m.shape[2]),
            "head_top1_match_rate": head_rate,
            "head_top5_match_rate": top5,
            "position_match_rate": [1.0] + cond,
            "prefix_all_match_rate": [1.0] + prefix,
            "expected_tokens_per_base_step_top1_chain": round(1 + sum(prefix), 4),
            "note": "position 1 is the base's own next token; positions 2..5 are heads 0..3",
        }
        log(f"agreement medusa {args.target}: {json.dumps(result['medusa'])}")
        (target_dir / getattr(args, "medusa_dir", "medusa") / "agreement.json").write_text(json.dumps(result, indent=1) + "\n")


# ----------------------------------------------------------------------------------------------
# reference fixtures

PROSE_PROMPTS = [
    "Speculative decoding lets a small draft model propose several tokens that a larger model "
    "then checks in a single forward pass.",
    "The quick brown fox jumps over the lazy dog. The five boxing wizards jump quickly.",
    "Once upon a time, in a small town by the sea, there lived an old clockmaker who",
]


def pick_code_prompts(n: int, max_chars: int) -> list[dict]:
    """Held-out snippets that start at a top-level or method `def`/`class` line."""
    items = corpus_texts("heldout")
    out = []
    for path, text in items:
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            s = line.lstrip()
            if not (s.startswith("def ") or s.startswith("class ")):
                continue
            snippet = ""
            for l2 in lines[i:]:
                if len(snippet) + len(l2) > max_chars:
                    break
                snippet += l2
            if len(snippet) < max_chars // 2:
                continue
            # No trailing newline: the prompt ends inside code, so continuations are not just
            # blank lines.
            out.append({"kind": "code", "source": path, "line": i + 1, "text": snippet.rstrip()})
            break
    rng = random.Random(1234)
    rng.shuffle(out)
    return sorted(out[:n], key=lambda d: d["source"])


def f32(values) -> list[float]:
    """float32 values as JSON numbers with 9 significant digits (exact float32 round trip)."""
    return [float(f"{float(v):.9g}") for v in values]


def cmd_reference(args: argparse.Namespace) -> None:
    import transformers
    setup_torch(args.threads)
    prompts_path = FIXTURES / "prompts.json"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if not prompts_path.exists() or args.new_prompts:
        code = pick_code_prompts(args.code_prompts, args.max_chars)
        prose = [{"kind": "prose", "source": "written for specdec", "text": t}
                 for t in PROSE_PROMPTS]
        prompts_path.write_text(json.dumps({
            "description": "Held-out code prompts (never trained on) from the Python standard "
                           "library and a few prose prompts; reference fixtures use the first "
                           f"{args.cases} code prompts.",
            "prompts": code + prose}, indent=1) + "\n")
    prompts = json.loads(prompts_path.read_text())["prompts"]
    cases_src = [p for p in prompts if p["kind"] == "code"][: args.cases]
    from transformers import AutoTokenizer
    out_dir = FIXTURES / "reference"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        mdir = MODELS / name
        tok = AutoTokenizer.from_pretrained(str(mdir))
        model = load_model(mdir, torch.float32)
        full = model.config.vocab_size <= args.full_vocab_max
        cases = []
        for i, p in enumerate(cases_src):
            ids = tok(p["text"], add_special_tokens=False)["input_ids"]
            x = torch.tensor([ids])
            with torch.no_grad():
                out = model(input_ids=x, output_hidden_states=True)
            last = out.logits[0, -1].float()  # [vocab]
            top = last.topk(20)
            case = {"prompt_index": prompts.index(p), "prompt": p["text"], "prompt_ids": ids,
                    "last_logits_top20": {"ids": top.indices.tolist(),
                                          "values": f32(top.values)}}
            if full:
                case["last_logits"] = f32(last)
            greedy = greedy_paths(model, x, args.new)[0, len(ids):].tolist()
            case["greedy_ids"] = greedy
            case["greedy_text"] = tok.decode(greedy)
            medusa_dir = mdir / "medusa"
            if args.medusa and (medusa_dir / "model.safetensors").exists():
                heads = load_medusa(mdir)
                with torch.no_grad():
                    h = out.hidden_states[-1][0, -1]  # [H], after the final norm
                    head_logits = [o.float() for o in heads(h, model.lm_head)]  # K x [vocab]
                case["medusa"] = {
                    "hidden": f32(h),
                    "heads_top20": [{"ids": o.topk(20).indices.tolist(),
                                     "values": f32(o.topk(20).values)}
                                    for o in head_logits]}
                if full and i < 2:
                    case["medusa"]["heads_logits"] = [f32(o) for o in head_logits]
            if args.eagle and (mdir / "eagle" / "model.safetensors").exists():
                case["eagle"] = eagle_reference(model, mdir, x, out.hidden_states[-1][0],
                                                int(last.argmax()), full and i < 2)
            cases.append(case)
        fixture = {
            "model": name,
            "model_dir": f"models/{name}",
            "vocab_size": model.config.vocab_size,
            "eos_token_id": model.config.eos_token_id,
            "weights_dtype": "float16",
            "compute": f"transformers {transformers.__version__}, torch {torch.__version__}, "
                       "CPU, float32 (fp16 weights upcast)",
            "tokenization": "tokenizer.encode(prompt) without special tokens",
            "greedy": f"{args.new} tokens, argmax each step, EOS not treated as a stop",
            "logits": "full last-position vector" if full else "top-20 of the last position",
            "cases": cases,
        }
        (out_dir / f"{name}.json").write_text(json.dumps(fixture) + "\n")
        log(f"reference {name}: {len(cases)} cases")


# ----------------------------------------------------------------------------------------------
# check


def cmd_check(args: argparse.Namespace) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    setup_torch(args.threads)
    failures = 0
    names = args.models.split(",") if args.models else sorted(
        d.name for d in MODELS.iterdir() if (d / "config.json").exists())
    for name in names:
        mdir = MODELS / name
        try:
            model = AutoModelForCausalLM.from_pretrained(str(mdir)).float().eval()
            tok = AutoTokenizer.from_pretrained(str(mdir))
            ids = tok("def main(argv):\n    return 0\n", add_special_tokens=False)["input_ids"]
            assert tok.decode(ids) == "def main(argv):\n    return 0\n", "tokenizer round trip"
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            logits = out.logits
            assert logits.shape == (1, len(ids), model.config.vocab_size), logits.shape
            assert torch.isfinite(logits).all(), "non-finite logits"
            cfg = json.loads((mdir / "config.json").read_text())
            assert cfg.get("torch_dtype") == "float16", "config dtype"
            for f in ("generation_config.json", "tokenizer.json", "tokenizer_config.json",
                      "model.safetensors"):
                assert (mdir / f).exists(), f"missing {f}"
            msg = f"{count_params(model)} params"
            if (mdir / "medusa" / "model.safetensors").exists():
                heads = load_medusa(mdir)
                h = out.hidden_states[-1][0, -1]
                hl = heads(h, model.lm_head)
                assert all(x.shape == (model.config.vocab_size,) for x in hl)
                msg += f", medusa {len(hl)} heads"
            ref = FIXTURES / "reference" / f"{name}.json"
            if ref.exists():
                fx = json.loads(ref.read_text())
                case = fx["cases"][0]
                x = torch.tensor([case["prompt_ids"]])
                got = greedy_paths(model, x, len(case["greedy_ids"]))[0, x.size(1):].tolist()
                assert got == case["greedy_ids"], "greedy continuation differs from the fixture"
                msg += ", fixture greedy ok"
            log(f"check {name}: ok ({msg})")
        except Exception as e:  # report every model, then fail
            failures += 1
            log(f"check {name}: FAILED: {e!r}")
    size = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    log(f"models/ total {size / 1e6:.1f} MB")
    if size > 150e6:
        failures += 1
        log("models/ is larger than 150 MB")
    if failures:
        raise SystemExit(1)




# ----------------------------------------------------------------------------------------------
# EAGLE


def chain_table(m: np.ndarray) -> dict:
    """`m[start, step, prompt]`: drafting step `step` (0-based) from chain start `start` proposes
    the target's token, given the earlier steps did. Position 1 is the base's own token."""
    K = m.shape[1]
    cond, prefix = [], []
    for k in range(K):
        all_k = m[:, :k + 1].all(1)
        prev = m[:, :k].all(1) if k > 0 else np.ones_like(all_k)
        prefix.append(round(float(all_k.mean()), 4))
        cond.append(round(float(all_k.sum() / max(1, prev.sum())), 4))
    return {"chains": int(m.shape[0] * m.shape[2]),
            "step_top1_match_rate": [round(float(m[:, k].mean()), 4) for k in range(K)],
            "position_match_rate": [1.0] + cond,
            "prefix_all_match_rate": [1.0] + prefix,
            "expected_tokens_per_base_step": [round(1 + sum(prefix[:g]), 4)
                                              for g in range(1, K + 1)]}


@torch.no_grad()
def eagle_agreement(target, target_dir: Path, paths: torch.Tensor, P: int, new: int,
                    sub: str = "eagle", depth: int = 5) -> dict:
    """Chain drafting from every position of the target's greedy continuations: step 1 reads the
    target's feature f_t and its token t+1 and proposes token t+2; step p reads step p-1's output
    as the feature (the head's KV holds true features up to t and its own earlier steps). With
    the target's tokens as inputs this is exact for every chain whose earlier steps matched."""
    from .eagle import base_tables, load_eagle
    head = load_eagle(target_dir, sub)
    emb, lm = base_tables(target)
    hidden = target.model(input_ids=paths).last_hidden_state.float()  # [N, T, H]
    feats = hidden[:, :-1]  # f_u, u = 0..T-2
    nemb = emb[paths[:, 1:]]  # embed(token_{u+1})
    outs = head(feats, nemb, depth=depth)  # depth x [N, T - 1, H]
    preds = [head.logits(o, lm) for o in outs]  # [N, T - 1, V]
    per_start, top5 = [], [[] for _ in range(depth)]
    for s in range(new - depth - 1):
        t = P - 1 + s  # the chain starts after the target's token t + 1
        row = []
        for p in range(depth):
            lg = preds[p][:, t + p]
            gold = paths[:, t + p + 2]
            row.append((lg.argmax(-1) == gold).numpy())
            top5[p].append((lg.topk(5, -1).indices == gold[:, None]).any(-1).numpy())
        per_start.append(row)
    m = np.array(per_start)  # [starts, depth, N]
    r = chain_table(m)
    r["step_top5_match_rate"] = [round(float(np.mean(t)), 4) for t in top5]
    r["note"] = ("position 1 is the base's own next token; positions 2..6 are drafting steps "
                 "1..5 (chain, greedy); expected tokens for chains of 1..5 drafted tokens")
    return r


@torch.no_grad()
def eagle_reference(model, mdir: Path, x: torch.Tensor, f: torch.Tensor, next_id: int,
                    full: bool, steps: int = 4) -> dict:
    """A greedy EAGLE chain after the prompt: prefill over the prompt's features, then `steps`
    drafting steps, each feeding back its output. x `[1, P]`, f `[P, H]` (after the final norm)."""
    from .eagle import base_tables, load_eagle
    head = load_eagle(mdir)
    emb, lm = base_tables(model)
    ids = x[0].tolist() + [next_id]
    feats = [f[i].float() for i in range(f.size(0))]
    drafts, tops, logits_full, hidden_first = [], [], [], None
    for step in range(steps):
        F_ = torch.stack(feats)[None]  # [1, n, H]
        E_ = emb[torch.tensor(ids[1:len(feats) + 1])][None]  # [1, n, H]
        h = head(F_, E_, depth=1)[0][0, -1]  # [H]
        lg = head.logits(h, lm).float()  # [V]
        d = int(lg.argmax())
        if step == 0:
            hidden_first = h
        if full and step == 0:
            logits_full = f32(lg)
        top = lg.topk(20)
        tops.append({"ids": top.indices.tolist(), "values": f32(top.values)})
        drafts.append(d)
        feats.append(h)
        ids.append(d)
    r = {"next_token": next_id, "draft_ids": drafts, "draft_top20": tops,
         "hidden_first": f32(hidden_first),
         "note": "prefill: positions 0..P-1 read (f_t, token t+1), the last one the base's "
                 "greedy token; step k >= 2 reads step k-1's output and draft token at position "
                 "P - 2 + k"}
    if logits_full is not None:
        r["logits_first"] = logits_full
    return r


def cmd_heldout(args: argparse.Namespace) -> None:
    """Held-out loss of models/<name> over non-overlapping windows; written into its
    train_summary.json (heldout_loss, heldout_perplexity, heldout_eval_tokens)."""
    setup_torch(args.threads)
    mdir = MODELS / args.name
    model = load_model(mdir, torch.float32)
    held = load_split("heldout")
    loss = heldout_loss(model, held, args.seq, args.eval_tokens)
    sf = mdir / "train_summary.json"
    s = json.loads(sf.read_text())
    s["heldout_loss"] = round(loss, 4)
    s["heldout_perplexity"] = round(math.exp(loss), 3)
    s["heldout_eval_tokens"] = int(min((held.size - 1) // args.seq, args.eval_tokens // args.seq)
                                   * args.seq)
    sf.write_text(json.dumps(s, indent=1) + "\n")
    log(f"heldout {args.name}: loss {loss:.4f}, ppl {math.exp(loss):.2f}")
