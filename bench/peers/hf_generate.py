#!/usr/bin/env python3
"""Peer baseline for the benchmark report: Hugging Face transformers on the CPU.

Runs, on the same checkpoints and the same prompt token ids as specdec:
  * ``generate()``                     autoregressive greedy decoding   (method "ar")
  * ``generate(assistant_model=draft)`` assisted generation, constant K  (method "speculative")
  * ``generate(prompt_lookup_num_tokens=K)`` prompt lookup decoding     (method "lookup")

Input: a JSON file of prompts ``[{"id", "kind", "ids": [...]}, ...]`` (token ids
from specdec's tokenizer, so both engines see exactly the same input).
Output (stdout): one JSON object
``{"engine", "threads", "runs": [{"method", "k", "promptId", "promptKind",
"newTokens", "wallTimeMs", "tokens"}]}``; progress goes to stderr.

Usage:
  .venv/bin/python bench/peers/hf_generate.py --target models/bench-target \
      --draft models/bench-draft --prompts /tmp/prompts.json --max-new-tokens 64 --k 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="target checkpoint folder (Hugging Face format)")
    ap.add_argument("--draft", help="draft checkpoint folder for assisted generation")
    ap.add_argument("--prompts", required=True, help="JSON file: [{id, kind, ids}]")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--k", type=int, default=5, help="num_assistant_tokens (constant schedule)")
    ap.add_argument("--lookup-k", type=int, default=None, help="prompt_lookup_num_tokens (default: --k)")
    ap.add_argument("--ngram", type=int, default=3, help="max_matching_ngram_size for prompt lookup")
    ap.add_argument("--methods", default="ar,speculative,lookup")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--repeats", type=int, default=1, help="generations per prompt; the fastest is kept")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in ("ar", "speculative", "lookup"):
            ap.error(f"unknown method {m!r}")
    if "speculative" in methods and args.draft is None:
        ap.error("--draft is required for method speculative")
    lookup_k = args.lookup_k if args.lookup_k is not None else args.k

    with open(args.prompts, encoding="utf-8") as f:
        prompts = json.load(f)

    def load(path: str):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        model.eval()
        return model

    target = load(args.target)
    draft = load(args.draft) if "speculative" in methods else None
    if draft is not None:
        # A fixed K, no confidence early stop: the same algorithm as specdec's constant schedule.
        draft.generation_config.num_assistant_tokens = args.k
        draft.generation_config.num_assistant_tokens_schedule = "constant"
        draft.generation_config.assistant_confidence_threshold = 0.0

    eos = target.generation_config.eos_token_id
    pad = target.generation_config.pad_token_id
    if pad is None:
        pad = eos if isinstance(eos, int) else (eos[0] if eos else 0)

    def run(method: str, ids: list[int], max_new: int) -> tuple[list[int], float]:
        input_ids = torch.tensor([ids], dtype=torch.long)
        kwargs = dict(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new,
            do_sample=False,
            pad_token_id=pad,
        )
        if method == "speculative":
            kwargs["assistant_model"] = draft
        elif method == "lookup":
            kwargs["prompt_lookup_num_tokens"] = lookup_k
            kwargs["max_matching_ngram_size"] = args.ngram
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = target.generate(**kwargs)
            ms = (time.perf_counter() - t0) * 1000.0
        return out[0, len(ids):].tolist(), ms

    runs = []
    for method in methods:
        # Warm-up: the first call pays one-off allocation costs.
        run(method, prompts[0]["ids"], 4)
        for p in prompts:
            tokens, ms = run(method, p["ids"], args.max_new_tokens)
            for _ in range(args.repeats - 1):
                again, ms2 = run(method, p["ids"], args.max_new_tokens)
                if ms2 < ms:
                    tokens, ms = again, ms2
            rec = {
                "method": method,
                "promptId": p["id"],
                "promptKind": p.get("kind", "code"),
                "newTokens": len(tokens),
                "wallTimeMs": ms,
                "tokens": tokens,
            }
            if method == "speculative":
                rec["k"] = args.k
            elif method == "lookup":
                rec["k"] = lookup_k
            runs.append(rec)
            print(f"hf {method} {p['id']}: {len(tokens)} tokens, {len(tokens) / ms * 1000:.1f} tok/s", file=sys.stderr)

    json.dump(
        {
            "engine": f"transformers {transformers.__version__} / torch {torch.__version__}",
            "threads": torch.get_num_threads(),
            "runs": runs,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
