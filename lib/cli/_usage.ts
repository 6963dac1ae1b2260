// Help texts of the CLI commands.

/** `specdec --help`. */
export const MAIN_USAGE =
  `specdec: lossless speculative decoding for language models (Deno + ONNX Runtime)

Usage:
  deno run -A mod.ts <command> [options]

Commands:
  generate [PROMPT]   Generate a continuation (prompt as argument or on stdin)
  demo                Complete a code prompt with speculative decoding and compare
                      it with autoregressive decoding of the same prompt

Options:
  -h, --help          Show help (also: mod.ts <command> --help)
  -V, --version       Show the version

Permissions: --allow-ffi --allow-read --allow-write --allow-env --allow-run
(or -A). Models default to the bundled checkpoints in models/.
`;

/** `specdec generate --help`. */
export const GENERATE_USAGE = `Usage: deno run -A mod.ts generate [options] [PROMPT]

Generates a continuation of PROMPT (read from stdin when absent or "-"),
streaming text to stdout as tokens are accepted and printing a one-line
summary (tokens/s, acceptance, τ) on stderr. Greedy output is identical for
every method; sampled output follows the target's distribution exactly.

Models:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model for --method speculative
                            (default: models/bench-draft with the default model)
      --medusa DIR          Medusa heads folder (default: <model>/medusa)

Decoding:
      --method METHOD       ar | speculative | medusa | lookup (default: speculative)
      --k N                 Draft tokens per step, 1-32 (speculative, lookup)
      --tree N              Medusa tree size in nodes (e.g. 4, 8, 16, 64)
  -n, --max-new-tokens N    Tokens to generate at most (default: 128)
      --stop TEXT           Stop when TEXT is generated (repeatable; \\n escapes)

Sampling:
  -t, --temperature X       0 = greedy (default), > 0 samples
      --top-k N             Keep the N most likely tokens (0 = off)
      --top-p P             Nucleus sampling, P in (0, 1]
      --seed N              PRNG seed, for reproducible sampling

Output and runtime:
      --json                Print one JSON object {text, tokens, prompt_tokens, metrics}
      --threads N           ONNX Runtime intra-op threads of the target
                            (default: all cores)
      --draft-threads N     Intra-op threads of the draft (--method speculative,
                            default: 1) or of the Medusa heads (--method medusa,
                            default: --threads)
  -h, --help                Show this help

Exit codes: 0 ok, 1 runtime error, 2 usage error.

Examples:
  deno run -A mod.ts generate "def fibonacci(n):"
  echo "import os" | deno run -A mod.ts generate --method medusa --json
  deno run -A mod.ts generate --method ar -t 0.8 --seed 7 "class Stack:"
`;

/** `specdec demo --help`. */
export const DEMO_USAGE = `Usage: deno run -A mod.ts demo [options]

Completes a code prompt with speculative decoding (draft-target, greedy) on the
bundled bench checkpoints (falling back to the tiny ones with a notice), then
decodes the same prompt autoregressively and prints both speeds, the acceptance
rate, τ, the speedup and whether the outputs are identical.

Options:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model folder (default: models/bench-draft)
  -p, --prompt TEXT         Prompt to complete (default: a built-in code prompt)
      --k N                 Draft tokens per step
  -n, --max-new-tokens N    Tokens to generate (default: 96)
      --threads N           ONNX Runtime intra-op threads of the target
                            (default: all cores)
      --draft-threads N     Intra-op threads of the draft (default: 1)
  -h, --help                Show this help
`;
