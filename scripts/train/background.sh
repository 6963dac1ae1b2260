#!/usr/bin/env bash
# Continues the cache-trained drafters of bench-target in the background (issue 12), each under
# `nohup nice -n 19`, one torch thread each, logging to runs/<stage>.log; every stage adds its
# PID to runs/train.pid and is pause-tolerant (kill -STOP / -CONT $(cat runs/train.pid)).
#
#   scripts/train/background.sh 04:40     # budgets end at 04:40 (training time, pauses excluded)
#
# Each stage resumes from runs/<name>/state.pt when it exists. Results land in runs/ only:
# runs/bench-target-eagle/{best,last}, runs/bench-target-medusa/{best,last},
# runs/bench-draft-distill/{best,last}; scripts/train/promote.sh copies them into models/.
set -euo pipefail
until="${1:?HH:MM}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
py=".venv/bin/python"
t="scripts/train/train.py"
mkdir -p runs
run() {  # log-name args...
  local name="$1"; shift
  nohup nice -n 19 "$py" "$t" "$@" --threads 1 --until "$until" >> "runs/$name.log" 2>&1 &
  echo "started $name (pid $!): train.py $*"
}
run features features --base bench-target --splits heldout,selfgen,train \
  --max-heldout-windows 64 --selfgen-windows 128
run eagle eagle --base bench-target --resume --teacher topk --fracs selfgen=0.15 \
  --decay-frac 0.25 --eval-every 50 --eval-windows 8 --save-minutes 4
run medusa medusa-cache --base bench-target --init medusa --resume --lr 5e-4 \
  --fracs selfgen=0.15 --decay-frac 0.25 --eval-every 50 --eval-windows 16 --save-minutes 4
run distill distill --name bench-draft --init bench-draft --resume --lr 3e-4 \
  --fracs selfgen=0.15 --decay-frac 0.25 --eval-every 50 --save-minutes 4
