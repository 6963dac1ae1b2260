#!/usr/bin/env bash
# Copies cache-trained drafters from runs/ into models/ and measures them on the held-out split.
# It does not commit: compare the figures with the committed ones first (git diff models/).
#
#   scripts/train/promote.sh eagle [best|last]     runs/bench-target-eagle/<which> -> models/bench-target/eagle
#   scripts/train/promote.sh medusa [best|last] [RUN]  RUN/<which> (default runs/bench-target-medusa)
#                                                  -> models/bench-target/medusa
#   scripts/train/promote.sh draft [best|last]     runs/bench-draft-distill/<which> -> models/bench-draft
#   scripts/train/promote.sh finish                fixtures (reference), check, card
#
# Then: npx -y deno@2.9.6 test -A tests/model tests/decoding, and commit models/ tests/fixtures/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
py=".venv/bin/python"
train="scripts/train/train.py"
what="${1:?eagle, medusa, draft or finish}"
which="${2:-best}"
copy() {  # src dst files...
  local src="$1" dst="$2"; shift 2
  for f in "$@"; do cp "$src/$f" "$dst/$f"; done
}
case "$what" in
  eagle)
    mkdir -p models/bench-target/eagle
    copy "runs/bench-target-eagle/$which" models/bench-target/eagle config.json model.safetensors train_summary.json
    nice -n 19 $py $train agreement --target bench-target --eagle
    ;;
  medusa)
    copy "${3:-runs/bench-target-medusa}/$which" models/bench-target/medusa config.json model.safetensors train_summary.json
    nice -n 19 $py $train agreement --target bench-target --medusa
    ;;
  draft)
    copy "runs/bench-draft-distill/$which" models/bench-draft config.json model.safetensors train_summary.json
    nice -n 19 $py $train heldout --name bench-draft
    nice -n 19 $py $train agreement --target bench-target --draft bench-draft
    ;;
  finish)
    nice -n 19 $py $train reference --models bench-target,bench-draft --full-vocab-max 0
    nice -n 19 $py $train check
    nice -n 19 $py $train card
    ;;
  *) echo "unknown: $what" >&2; exit 2 ;;
esac
