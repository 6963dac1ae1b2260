"""Export a Hugging Face causal LM to ONNX in the optimum / transformers.js decoder layout.

Inputs:  input_ids [B, S] i64, attention_mask [B, P + S] i64, position_ids [B, S] i64,
         past_key_values.N.key / .value [B, kv_heads, P, head_dim] f32
Outputs: logits [B, S, vocab] f32, present.N.key / .value [B, kv_heads, P + S, head_dim] f32

This is the layout specdec's OnnxDecoder imports; the export is made by torch.onnx.export
(TorchScript exporter) around the transformers model with an explicit cache, so the graph
is produced by a tool other than specdec's own builder.

Usage: .venv/bin/python scripts/export_onnx.py CHECKPOINT_DIR OUT_DIR
Writes OUT_DIR/model.onnx (weights inline) and copies config.json (and tokenizer files).
"""

import os
import shutil
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, DynamicCache


def main(src, out):
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    cfg = model.config
    layers = cfg.num_hidden_layers
    kv = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache(config=cfg)
            for i in range(layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            o = self.m(input_ids=input_ids, attention_mask=attention_mask,
                       position_ids=position_ids, past_key_values=cache, use_cache=True)
            flat = []
            for i in range(layers):
                layer = o.past_key_values.layers[i]
                flat += [layer.keys, layer.values]
            return (o.logits, *flat)

    B, P, S = 1, 3, 2
    ids = torch.randint(0, cfg.vocab_size, (B, S))
    mask = torch.ones(B, P + S, dtype=torch.int64)
    pos = torch.arange(P, P + S).unsqueeze(0)
    past = []
    for _ in range(layers):
        past += [torch.randn(B, kv, P, hd), torch.randn(B, kv, P, hd)]
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
            "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for i in range(layers):
        for kind in ("key", "value"):
            in_names.append(f"past_key_values.{i}.{kind}")
            out_names.append(f"present.{i}.{kind}")
            axes[in_names[-1]] = {0: "batch", 2: "past"}
            axes[out_names[-1]] = {0: "batch", 2: "total"}
    os.makedirs(out, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(Wrapper(model), (ids, mask, pos, *past), os.path.join(out, "model.onnx"),
                          input_names=in_names, output_names=out_names, dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    print(f"exported {src} -> {out}/model.onnx ({os.path.getsize(os.path.join(out, 'model.onnx'))} bytes), "
          f"transformers {transformers.__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
