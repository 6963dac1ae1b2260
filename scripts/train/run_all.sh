#!/usr/bin/env bash
# Trains the whole specdec model family in order (corpus -> tokenizer -> tiny models -> bench
# models -> agreement -> fixtures -> check -> card), logging to runs/pipeline.log.
# Uses /work/main/.venv (the repository's .venv) when present; otherwise creates
# scripts/train/.venv and installs the packages with plain pip (the machine's package index).
#
#   scripts/train/run_all.sh                  # everything (about 1.5 h on 2 cores)
#   scripts/train/run_all.sh --only tiny      # just the tiny family
#   scripts/train/run_all.sh --only bench --resume --bench-target 30
#
# Extra arguments go to `train.py pipeline` (see `train.py pipeline --help` for the budgets).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ -x "$root/.venv/bin/python" ]]; then
  py="$root/.venv/bin/python"
else
  if [[ ! -x "$here/.venv/bin/python" ]]; then
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install torch transformers tokenizers safetensors numpy matplotlib
  fi
  py="$here/.venv/bin/python"
fi
mkdir -p "$root/runs"
cd "$root"
exec nice -n 5 "$py" "$here/train.py" pipeline "$@" 2>&1 | tee -a "$root/runs/pipeline.log"
