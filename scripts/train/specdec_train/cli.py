"""The one command-line entry: sub-commands, pipeline."""

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
from .draft import *
from .medusa import *
from .evaluate import *
from .card import *
from . import draft, eagle, feature_cache, medusa

# ----------------------------------------------------------------------------------------------
# pipeline

TINY = [
    ("pretrain", ["--name", "tiny-target", "--arch", "llama", "--hidden", "128", "--layers", "2",
                  "--heads", "4", "--kv-heads", "2", "--intermediate", "352", "--tie",
                  "--batch", "8", "--lr", "3e-3", "--precision", "fp32", "--max-minutes", "{tiny_target}", "--schedule", "wsd"]),
    ("pretrain", ["--name", "tiny-draft", "--arch", "llama", "--hidden", "64", "--layers", "1",
                  "--heads", "2", "--kv-heads", "1", "--intermediate", "176", "--tie",
                  "--batch", "8", "--lr", "3e-3", "--precision", "fp32", "--teacher", "tiny-target",
                  "--max-minutes", "{tiny_draft}", "--schedule", "wsd"]),
    ("medusa", ["--base", "tiny-target", "--lr", "3e-3", "--precision", "fp32", "--batch", "8", "--max-minutes", "{tiny_medusa}"]),
    ("pretrain", ["--name", "tiny-gpt2-target", "--arch", "gpt2", "--hidden", "128", "--layers",
                  "2", "--heads", "4", "--intermediate", "512", "--batch", "8", "--lr", "3e-3", "--precision", "fp32",
                  "--max-minutes", "{tiny_gpt2}", "--schedule", "wsd"]),
    ("pretrain", ["--name", "tiny-gpt2-draft", "--arch", "gpt2", "--hidden", "64", "--layers",
                  "1", "--heads", "2", "--intermediate", "256", "--batch", "8", "--lr", "3e-3", "--precision", "fp32",
                  "--teacher", "tiny-gpt2-target", "--max-minutes", "{tiny_gpt2}",
                  "--schedule", "wsd"]),
    ("agreement", ["--target", "tiny-target", "--draft", "tiny-draft", "--medusa"]),
    ("agreement", ["--target", "tiny-gpt2-target", "--draft", "tiny-gpt2-draft"]),
    ("reference", ["--models", "tiny-target,tiny-draft,tiny-gpt2-target,tiny-gpt2-draft"]),
]
BENCH = [
    ("pretrain", ["--name", "bench-target", "--arch", "llama", "--hidden", "384", "--layers",
                  "12", "--heads", "6", "--kv-heads", "2", "--intermediate", "1024",
                  "--batch", "8", "--lr", "1.5e-3", "--warmup", "100",
                  "--max-minutes", "{bench_target}", "--eval-every", "100", "--schedule", "wsd"]),
    ("pretrain", ["--name", "bench-draft", "--arch", "llama", "--hidden", "192", "--layers", "3",
                  "--heads", "3", "--kv-heads", "1", "--intermediate", "512", "--batch", "8",
                  "--lr", "2e-3", "--teacher", "bench-target", "--max-minutes", "{bench_draft}",
                  "--eval-every", "100", "--schedule", "wsd"]),
    ("medusa", ["--base", "bench-target", "--gen-seqs", "256", "--batch", "8",
                "--max-minutes", "{bench_medusa}"]),
    ("agreement", ["--target", "bench-target", "--draft", "bench-draft", "--medusa"]),
    ("reference", ["--models", "bench-target,bench-draft", "--full-vocab-max", "0"]),
]


def cmd_pipeline(args: argparse.Namespace) -> None:
    budgets = {k: str(v) for k, v in vars(args).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    steps = []
    if args.only in ("all", "tiny"):
        steps += [("corpus", []), ("tokenizer", [])] if not args.skip_data else []
        steps += TINY
    if args.only in ("all", "bench"):
        steps += BENCH
    if args.only == "all":
        steps += [("check", []), ("card", [])]
    parser = make_parser()
    for cmd, flags in steps:
        argv = [cmd] + [f.format(**budgets) for f in flags]
        if args.resume and cmd in ("pretrain", "medusa"):
            argv.append("--resume")
        if cmd not in ("corpus", "tokenizer", "card"):
            argv += ["--threads", str(args.threads)]
        log("pipeline: train.py " + " ".join(argv))
        sub = parser.parse_args(argv)
        sub.func(sub)


# ----------------------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=sys.modules[__package__].__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sp = p.add_subparsers(dest="cmd", required=True)

    c = sp.add_parser("corpus", help="collect the stdlib corpus and its manifest")
    c.set_defaults(func=cmd_corpus)

    c = sp.add_parser("tokenizer", help="train the byte-level BPE and encode the corpus")
    c.add_argument("--vocab-size", type=int, default=4096)
    c.set_defaults(func=cmd_tokenizer)

    c = sp.add_parser("encode", help="encode the corpus with a committed tokenizer")
    c.add_argument("--tokenizer", default=str(MODELS / "bench-target" / "tokenizer.json"))
    c.set_defaults(func=cmd_encode)

    c = sp.add_parser("pretrain", help="train a checkpoint (fresh, or distilled with --teacher)")
    c.add_argument("--name", required=True)
    c.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    c.add_argument("--hidden", type=int, required=True)
    c.add_argument("--layers", type=int, required=True)
    c.add_argument("--heads", type=int, required=True)
    c.add_argument("--kv-heads", type=int, default=None)
    c.add_argument("--intermediate", type=int, default=None)
    c.add_argument("--tie", action="store_true", help="tie the LM head to the embeddings")
    c.add_argument("--teacher", default=None, help="models/<teacher> for distillation")
    c.add_argument("--distill-alpha", type=float, default=1.0,
                   help="weight of KL(teacher || student); the rest is hard-label CE")
    c.add_argument("--seq", type=int, default=256)
    c.add_argument("--batch", type=int, default=16)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--warmup", type=int, default=50)
    c.add_argument("--weight-decay", type=float, default=0.1)
    c.add_argument("--steps", type=int, default=None,
                   help="total steps; default: measured from --max-minutes")
    c.add_argument("--max-minutes", type=float, default=5.0)
    c.add_argument("--budget-fill", type=float, default=0.9,
                   help="fraction of the budget the planned steps should take")
    c.add_argument("--measure-steps", type=int, default=10)
    c.add_argument("--eval-every", type=int, default=50)
    c.add_argument("--eval-tokens", type=int, default=131072)
    c.add_argument("--save-minutes", type=float, default=3.0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--resume", action="store_true")
    c.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    c.add_argument("--schedule", choices=["cosine", "wsd"], default="cosine",
                   help="cosine over measured steps, or warmup-stable-decay (decay over the last "
                        "--decay-frac of the budget)")
    c.add_argument("--decay-frac", type=float, default=0.2)
    c.add_argument("--decay-start", type=int, default=None,
                   help="wsd: step where the decay starts (replay); default: from the budget")
    c.add_argument("--resume-stable", action="store_true",
                   help="wsd: continue the stable phase from runs/<name>/stable.pt (a longer run)")
    c.set_defaults(func=cmd_pretrain)

    c = sp.add_parser("medusa", help="train Medusa-1 heads on a frozen base")
    c.add_argument("--base", required=True)
    c.add_argument("--num-heads", type=int, default=4)
    c.add_argument("--seq", type=int, default=256)
    c.add_argument("--prompt-len", type=int, default=32)
    c.add_argument("--gen-seqs", type=int, default=512)
    c.add_argument("--gen-batch", type=int, default=64)
    c.add_argument("--batch", type=int, default=16)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--decay", type=float, default=0.8)
    c.add_argument("--steps", type=int, default=None)
    c.add_argument("--max-minutes", type=float, default=3.0)
    c.add_argument("--save-minutes", type=float, default=3.0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--resume", action="store_true")
    c.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    c.set_defaults(func=cmd_medusa)

    c = sp.add_parser("agreement", help="draft/target and Medusa agreement on held-out prompts")
    c.add_argument("--target", required=True)
    c.add_argument("--draft", default=None)
    c.add_argument("--medusa", action="store_true")
    c.add_argument("--medusa-dir", default="medusa", help="heads folder under models/<target>/")
    c.add_argument("--eagle", default=None, nargs="?", const="eagle",
                   help="also measure the EAGLE head in models/<target>/<EAGLE> (default eagle)")
    c.add_argument("--prompts", type=int, default=64)
    c.add_argument("--prompt-len", type=int, default=64)
    c.add_argument("--new", type=int, default=48)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(func=cmd_agreement)

    c = sp.add_parser("reference", help="write tests/fixtures/ reference fixtures")
    c.add_argument("--models", required=True, help="comma-separated model names")
    c.add_argument("--cases", type=int, default=4)
    c.add_argument("--code-prompts", type=int, default=8)
    c.add_argument("--max-chars", type=int, default=300)
    c.add_argument("--new", type=int, default=64)
    c.add_argument("--full-vocab-max", type=int, default=8192)
    c.add_argument("--no-medusa", dest="medusa", action="store_false")
    c.add_argument("--no-eagle", dest="eagle", action="store_false")
    c.add_argument("--new-prompts", action="store_true", help="rewrite prompts.json")
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(func=cmd_reference)

    c = sp.add_parser("check", help="load every checkpoint with transformers, run a forward")
    c.add_argument("--models", default=None)
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(func=cmd_check)

    c = sp.add_parser("heldout", help="held-out loss of a checkpoint into its train_summary.json")
    c.add_argument("--name", required=True)
    c.add_argument("--seq", type=int, default=256)
    c.add_argument("--eval-tokens", type=int, default=131072)
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(func=cmd_heldout)

    c = sp.add_parser("card", help="write models/README.md and models/loss_curves.png")
    c.set_defaults(func=cmd_card)

    feature_cache.add_parsers(sp)
    eagle.add_parsers(sp)
    medusa.add_cache_parser(sp)
    draft.add_distill_parser(sp)

    c = sp.add_parser("pipeline", help="everything in order with wall-time budgets (minutes)")
    c.add_argument("--only", choices=["all", "tiny", "bench"], default="all")
    c.add_argument("--skip-data", action="store_true", help="reuse runs/data and runs/tokenizer")
    c.add_argument("--resume", action="store_true")
    c.add_argument("--threads", type=int, default=2, help="torch intra-op threads per stage")
    c.add_argument("--tiny-target", type=float, default=4)
    c.add_argument("--tiny-draft", type=float, default=3)
    c.add_argument("--tiny-medusa", type=float, default=3)
    c.add_argument("--tiny-gpt2", type=float, default=3)
    c.add_argument("--bench-target", type=float, default=45)
    c.add_argument("--bench-draft", type=float, default=15)
    c.add_argument("--bench-medusa", type=float, default=10)
    c.set_defaults(func=cmd_pipeline)
    return p


def main() -> None:
    args = make_parser().parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
