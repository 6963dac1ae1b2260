"""Make tiny randomly initialised Hugging Face checkpoints plus reference outputs.

Each checkpoint lands in tests/fixtures/random/<name>/ (config.json, model.safetensors,
reference.json) and exercises one architecture variant the graph builder claims:

  llama         LlamaForCausalLM, GQA (4 heads, 2 kv heads), tied embeddings, fp32
  llama-untied  LlamaForCausalLM, separate lm_head, bf16 safetensors
  qwen2         Qwen2ForCausalLM (q/k/v biases), fp16 safetensors
  mistral       MistralForCausalLM (no sliding window), fp32
  llama-hd8     LlamaForCausalLM with head_dim 8 (rotary computed in the graph), fp32
  llama3-rope   LlamaForCausalLM with Llama 3.1 rope scaling (original context 64), fp32
  gpt2          GPT2LMHeadModel (learned positions, LayerNorm, Conv1D, gelu_new), fp32

reference.json holds the prompt ids, the logits of the last prompt position (fp32 compute
after the weights were rounded to the stored dtype), and the 64-token greedy continuation.
Weights are scaled up (initializer_range 0.2) so greedy choices are not near ties; the
smallest top-1/top-2 gap along the continuation is recorded as `min_gap`.

Usage: .venv/bin/python scripts/make_random_checkpoints.py [out_dir]
"""

import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "tests", "fixtures", "random")

COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, rope_theta=10000.0, initializer_range=0.2,
              bos_token_id=1, eos_token_id=2)

SPECS = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
              dict(COMMON, tie_word_embeddings=True), torch.float32),
    "llama-untied": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                     dict(COMMON, tie_word_embeddings=False), torch.bfloat16),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              dict(COMMON, tie_word_embeddings=True), torch.float16),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM,
                dict(COMMON, tie_word_embeddings=False, sliding_window=None), torch.float32),
    "gpt2": (transformers.GPT2Config, transformers.GPT2LMHeadModel,
             dict(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=256,
                  initializer_range=0.2, bos_token_id=1, eos_token_id=2,
                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0), torch.float32),
    "llama-hd8": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                  dict(COMMON, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=8, tie_word_embeddings=True), torch.float32),
    "llama3-rope": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                    dict(COMMON, rope_theta=500000.0, tie_word_embeddings=True,
                         rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                           high_freq_factor=4.0,
                                           original_max_position_embeddings=64)),
                    torch.float32),
}

PROMPT = [1, 17, 42, 99, 7, 200, 13, 64, 5, 128, 31, 77]
STEPS = 64


def make(name, seed):
    config_cls, model_cls, kwargs, dtype = SPECS[name]
    torch.manual_seed(seed)
    config = config_cls(**kwargs)
    model = model_cls(config).eval()
    with torch.no_grad():
        # Qwen2's biases start at zero: randomise them so the bias path is exercised.
        for pname, p in model.named_parameters():
            if pname.endswith(".bias") and "norm" not in pname and "ln_" not in pname:
                p.normal_(0.0, 0.2)
        # Round to the stored dtype, compute in fp32.
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model.config.dtype = dtype
    model.config.save_pretrained(d)
    state = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings and "lm_head.weight" in state:
        del state["lm_head.weight"]
    # GPT-2's attention masks are buffers, not weights.
    state = {k: v for k, v in state.items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
    save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})

    with torch.no_grad():
        ids = torch.tensor([PROMPT])
        logits = model(ids).logits[0, -1].tolist()
        seq = list(PROMPT)
        out = []
        min_gap = float("inf")
        for _ in range(STEPS):
            lg = model(torch.tensor([seq])).logits[0, -1]
            top = torch.topk(lg, 2).values
            min_gap = min(min_gap, float(top[0] - top[1]))
            nxt = int(torch.argmax(lg))
            out.append(nxt)
            seq.append(nxt)
    ref = dict(model=name, model_type=config.model_type, dtype=str(dtype).replace("torch.", ""),
               transformers=transformers.__version__, prompt_ids=PROMPT, last_logits=logits,
               greedy=out, min_gap=min_gap)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    return min_gap


def make_medusa(name, num_heads=3, seed=7):
    """Random Medusa-1 heads (the model family's layout: `medusa/config.json`, fp16
    `medusa_head.{k}.0.linear.weight|bias`, heads share the base LM head) and their logits
    for the base's last hidden state of the reference prompt."""
    from safetensors.torch import load_file
    d = os.path.join(OUT, name)
    config_cls, model_cls, kwargs, dtype = SPECS[name]
    model = model_cls.from_pretrained(d, dtype=torch.float32).eval()
    H, V = model.config.hidden_size, model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for k in range(num_heads):
        tensors[f"medusa_head.{k}.0.linear.weight"] = (torch.randn(H, H, generator=g) * 0.2).half()
        tensors[f"medusa_head.{k}.0.linear.bias"] = (torch.randn(H, generator=g) * 0.2).half()
    md = os.path.join(d, "medusa")
    os.makedirs(md, exist_ok=True)
    save_file(tensors, os.path.join(md, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(md, "config.json"), "w") as f:
        json.dump({"architecture": "medusa-1", "medusa_num_heads": num_heads,
                   "medusa_num_layers": 1, "hidden_size": H, "vocab_size": V,
                   "shares_base_lm_head": True, "base_model": "..", "dtype": "float16"}, f, indent=2)
    with torch.no_grad():
        out = model(torch.tensor([PROMPT]), output_hidden_states=True)
        h = out.hidden_states[-1][0, -1]
        logits = []
        for k in range(num_heads):
            w = tensors[f"medusa_head.{k}.0.linear.weight"].float()
            b = tensors[f"medusa_head.{k}.0.linear.bias"].float()
            hk = h + torch.nn.functional.silu(h @ w.T + b)
            logits.append(model.lm_head(hk).tolist())
    with open(os.path.join(md, "reference.json"), "w") as f:
        json.dump({"hidden": h.tolist(), "heads_logits": logits}, f)
    print(f"medusa heads for {name}: {num_heads}")


def make_tokenizers():
    """BPE tokenizers (byte-level pre-tokenizer, alphabet of the training text only): one of 256 ids (fits the random models, saved with llama and
    gpt2), one of 320 ids (too large for them: the vocabulary-check test)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    text = ["The quick brown fox jumps over the lazy dog. " * 4,
            "Speculative decoding drafts tokens and verifies them in one pass. " * 4]
    for size, dirs in ((256, ["llama", "gpt2"]), (320, ["tokenizer-320"])):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=size - 2, special_tokens=["<bos>", "<eos>"],
                                      show_progress=False)
        tok.train_from_iterator(text, trainer)
        # Pad the vocabulary to exactly `size` ids with unused merges-free tokens if short.
        missing = size - tok.get_vocab_size()
        if missing > 0:
            tok.add_tokens([f"<unused{i}>" for i in range(missing)])
        for d in dirs:
            os.makedirs(os.path.join(OUT, d), exist_ok=True)
            tok.save(os.path.join(OUT, d, "tokenizer.json"))
            with open(os.path.join(OUT, d, "tokenizer_config.json"), "w") as f:
                json.dump({"bos_token": "<bos>", "eos_token": "<eos>"}, f)
        print(f"tokenizer {size}: {tok.get_vocab_size()} ids -> {dirs}")


if __name__ == "__main__":
    make_tokenizers()
    for i, name in enumerate(SPECS):
        for seed in range(i * 100, i * 100 + 20):
            gap = make(name, seed)
            if gap > 1e-2:
                break
        print(f"{name}: seed {seed}, min top-2 gap {gap:.4f}")
    make_medusa("llama")
