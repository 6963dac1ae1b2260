#!/usr/bin/env bash
# gpu_check.sh: the GPU check of specdec's CUDA kernels, for a machine with a GPU, nvcc and CMake
# (no network, no ONNX Runtime needed).
#
#   scripts/gpu_check.sh            # build, correctness cases, then the timing table
#   OUT=/some/dir scripts/gpu_check.sh   # also writes /some/dir/gpu_check.md
#
# 1. builds native/cuda standalone (CMake + nvcc) into build/gpu_check/ (BUILD_DIR overrides);
# 2. runs tree_attention_harness --check --bench: the CUDA kernels against the CPU reference on
#    random inputs and edge cases, then time and KV-read bandwidth per call (S x P) against the
#    device's peak;
# 3. prints a markdown report (stdout, and $OUT/gpu_check.md when OUT is set).
# Exit codes: 0 passed, 1 a correctness check failed, 2 build or CUDA error (or the harness ran
# out of time, or nvidia-smi sees a GPU that the CUDA 13 runtime cannot use: driver too old),
# 77 no GPU (skipped).
# Designed to finish within 5 minutes on one GPU: the harness alone is built, for the local
# architecture only, and it is stopped when the 290 s budget runs out.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build/gpu_check}"
REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
started=$(date +%s)

say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

finish() {
  local rc=$1
  say ""
  say "Total time: $(( $(date +%s) - started )) s; exit code $rc."
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT" && cp "$REPORT" "$OUT/gpu_check.md"
  fi
  exit "$rc"
}

say "# specdec GPU check"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
say "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
say "- nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'not found')"
gpu_seen=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu_seen=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
  # nvidia-smi prints its errors on stdout: keep only a line that names a GPU
  case "$gpu_seen" in *,*) ;; *) gpu_seen="" ;; esac
  say "- GPU (name, memory, driver): ${gpu_seen:-none reported by nvidia-smi}"
  driver_major=$(printf '%s' "$gpu_seen" | awk -F', *' '{split($3, v, "."); print v[1]}')
  case "$driver_major" in
    '' | *[!0-9]*) ;;
    *) if [ "$driver_major" -lt 580 ]; then
         say "- warning: driver $driver_major < 580, which the CUDA 13 runtime needs (unless a CUDA forward-compatibility package is installed): the harness may find no usable device"
       fi ;;
  esac
fi

if ! command -v nvcc >/dev/null 2>&1 || ! command -v cmake >/dev/null 2>&1; then
  say ""
  say "nvcc and cmake are required"
  finish 2
fi

# Architectures: only the local GPU's when nvidia-smi tells it (a faster build; the library
# build covers sm_80 and sm_90), else sm_80 and sm_90.
archs="80;90"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. \r')
# only digits ("9.0" -> "90"); anything else (an error message, "[N/A]") keeps the default
case "$cc" in '' | *[!0-9]*) ;; *) archs="$cc" ;; esac

say "- CUDA architectures: $archs"
say ""
build_started=$(date +%s)
if ! { cmake -S "$ROOT/native/cuda" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
         "-DSPECDEC_CUDA_ARCHITECTURES=$archs" >"$BUILD.log" 2>&1 &&
       cmake --build "$BUILD" -j "$(nproc)" --target tree_attention_harness >>"$BUILD.log" 2>&1; }; then
  say "Build failed; the last lines of $BUILD.log:"
  say ""
  say '```'
  tail -n 40 "$BUILD.log" | tee -a "$REPORT"
  say '```'
  finish 2
fi
say "Built in $(( $(date +%s) - build_started )) s."

# What is left of a 290 s budget (at least 60 s) for the harness.
budget=$(( 290 - ($(date +%s) - started) ))
if [ "$budget" -lt 60 ]; then budget=60; fi
timeout "$budget" "$BUILD/tree_attention_harness" --check --bench | tee -a "$REPORT"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 124 ]; then say ""; say "The harness ran past ${budget} s and was stopped."; rc=2; fi
if [ "$rc" -eq 77 ] && [ -n "$gpu_seen" ]; then
  say ""
  say "nvidia-smi sees a GPU ($gpu_seen) but the CUDA runtime found no usable device: most likely"
  say "the driver is older than the CUDA $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' | cut -d' ' -f2) runtime needs (CUDA 13 needs driver >= 580)."
  rc=2
fi
finish "$rc"
