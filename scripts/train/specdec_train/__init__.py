"""Train, check and describe the specdec model family.

One entry point (`scripts/train/train.py`), one sub-command per stage:

  corpus     Python standard library sources -> runs/data/ (manifest, train/held-out split by file)
  tokenizer  byte-level BPE (vocab 4096) -> runs/tokenizer/ (tokenizer.json, tokenizer_config.json)
  encode     encode the corpus with a committed tokenizer (default models/bench-target/) -> runs/data/
  pretrain   a Llama or GPT-2 checkpoint, fresh or distilled from a teacher -> models/<name>/
  features   run a target once over the corpus -> feature cache (hidden states, top-k logits)
  distill    a draft distilled from the feature cache (no target forward per step) -> models/<name>/
  medusa     Medusa-1 heads on a frozen base, trained on the base's own outputs -> models/<base>/medusa/
  medusa-cache  Medusa heads from the feature cache -> models/<base>/medusa/
  eagle      an EAGLE-1 head from the feature cache -> models/<base>/eagle/
  eagle-init a random-weight EAGLE head (tests) -> models/<base>/eagle/
  agreement  greedy draft/target, Medusa/base and EAGLE/base agreement on held-out prompts
  reference  fixtures for the runtime's exactness tests -> tests/fixtures/
  check      loads every checkpoint with transformers and runs a forward
  card       models/README.md and models/loss_curves.png from the committed training logs
  pipeline   everything in order, with wall-time budgets

Modules: common (paths, helpers), data, models, feature_cache, draft, medusa, eagle, evaluate,
card, cli. Every stage is deterministic given its seed; training stages checkpoint their state to
runs/<name>/ every few minutes and continue from it with --resume. Run with the repository's
virtual environment: `.venv/bin/python scripts/train/train.py <sub-command> --help`.
"""
