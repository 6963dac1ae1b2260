"""Hugging Face transformers autoregressive decode speed on the CPU (the peer baseline of
bench/model_bench.ts).

Greedy decode with the KV cache, batch 1, fp32, after one warm-up run. Prints one JSON line:
{"checkpoint", "threads", "prompt_tokens", "new_tokens", "prefill_ms", "decode_ms_per_token",
 "tokens_per_s", "torch", "transformers", "tokens"}.

Usage: .venv/bin/python bench/peers/hf_decode.py CHECKPOINT_DIR --prompt-ids 1,2,3
         [--new-tokens 64] [--threads 1]
"""

import argparse
import json
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def decode(model, ids, n):
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(input_ids=torch.tensor([ids]), use_cache=True)
        t1 = time.perf_counter()
        past = out.past_key_values
        nxt = int(out.logits[0, -1].argmax())
        tokens = [nxt]
        for _ in range(n - 1):
            out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = int(out.logits[0, -1].argmax())
            tokens.append(nxt)
        t2 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3 / max(1, n - 1), tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = AutoModelForCausalLM.from_pretrained(a.checkpoint, dtype=torch.float32).eval()
    ids = [int(x) for x in a.prompt_ids.split(",")]
    decode(model, ids, 8)  # warm-up
    best = None
    for _ in range(a.repeats):
        r = decode(model, ids, a.new_tokens)
        if best is None or r[1] < best[1]:
            best = r
    prefill, per_token, tokens = best
    print(json.dumps(dict(checkpoint=a.checkpoint, threads=a.threads, prompt_tokens=len(ids),
                          new_tokens=a.new_tokens, prefill_ms=prefill,
                          decode_ms_per_token=per_token, tokens_per_s=1e3 / per_token,
                          torch=torch.__version__, transformers=transformers.__version__,
                          tokens=tokens)))


if __name__ == "__main__":
    main()
