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
  serve               An OpenAI-compatible HTTP server (/v1/completions,
                      /v1/chat/completions) whose requests choose their speculation

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
      --eagle DIR           EAGLE head folder (default: <model>/eagle)
  A model given as a hub id, org/name[@revision], is fetched once from
  HF_ENDPOINT into the Hugging Face cache (HF_HUB_CACHE; HF_TOKEN, HF_HUB_OFFLINE).

Decoding:
      --method METHOD       ar | speculative | medusa | eagle | lookup
                            (default: speculative)
      --k N                 Draft tokens per step, 1-32 (speculative, lookup; eagle:
                            a chain of N, or with --tree the tree's depth)
      --tree N              Tree size in nodes: Medusa's (e.g. 4, 8, 16, 64) or
                            EAGLE-2's dynamic tree (1-128)
  -n, --max-new-tokens N    Tokens to generate at most (default: 128)
      --stop TEXT           Stop when TEXT is generated (repeatable; \\n escapes)
      --max-length N        Context in tokens, prompt + generation, up to the
                            model's max_position_embeddings (default: 1024 or less)

Prompt:
      --chat                The prompt is one user message, rendered with the
                            model's chat template (tokenizer_config.json)
      --system TEXT         A system message before it (with --chat)
      --no-bos              Never prepend BOS (default: as the tokenizer does,
                            like transformers' tokenizer(text))

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
                            default: 1) or of the Medusa or EAGLE heads (--method
                            medusa or eagle, default: --threads)
      --weights P           Weight precision of the target: f32 (default), q8 or q4
                            (block-wise quantized at load time, then cached)
      --draft-weights P     Weight precision of the draft (default: --weights)
      --batch-invariant     --method ar with the numerics the speculative methods
                            verify with at q8/q4 (their output equals it exactly)
  -h, --help                Show this help

Exit codes: 0 ok, 1 runtime error, 2 usage error.

Examples:
  deno run -A mod.ts generate "def fibonacci(n):"
  echo "import os" | deno run -A mod.ts generate --method medusa --json
  deno run -A mod.ts generate --method eagle --tree 8 "def parse(line):"
  deno run -A mod.ts generate --method ar -t 0.8 --seed 7 "class Stack:"
`;

/** `specdec serve --help`. */
export const SERVE_USAGE = `Usage: deno run -A mod.ts serve [options]

Serves one model set over an OpenAI-compatible HTTP API:
  GET  /v1/models            the model (its name: --name, default the folder name)
  POST /v1/completions       { model, prompt, max_tokens, stop, temperature, top_p,
                               seed, stream, speculation }
  POST /v1/chat/completions  { model, messages, ... } (the model's chat template)
  GET  /health               { status, running, queued, served, cancelled }
A request chooses its decoding with the extension field
  "speculation": { "method": "ar" | "speculative" | "medusa" | "eagle" | "lookup",
                   "k": 3 }
and gets its acceptance metrics back in "speculation" (non-streaming: the response;
streaming: the last chunk). Requests run one at a time, in order; a full queue
answers 503 with Retry-After; a client that disconnects cancels its generation.

Options:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model (enables "speculative"; default:
                            models/bench-draft with the default model)
      --medusa DIR          Medusa heads (enables "medusa"; default:
                            <model>/medusa when it exists)
      --eagle DIR           EAGLE head (enables "eagle"; default:
                            <model>/eagle when it exists)
      --host HOST           Address to listen on (default: 127.0.0.1)
  -p, --port N              Port (default: 8080; 0 picks a free one)
      --queue-size N        Requests waiting behind the running one (default: 16)
      --name NAME           Model name clients send (default: the folder name)
      --max-length N        Context in tokens (default: 1024 or less)
      --threads N           ONNX Runtime intra-op threads of the target
      --draft-threads N     Intra-op threads of the draft or Medusa heads
      --weights P           Weight precision of the target: f32 (default), q8, q4
      --draft-weights P     Weight precision of the draft (default: --weights)
  -h, --help                Show this help

SIGINT or SIGTERM stops accepting requests, cancels the running one and closes
the sessions. Permissions: --allow-net besides the CLI's.
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
      --weights P           Weight precision of the target: f32 (default), q8, q4
      --draft-weights P     Weight precision of the draft (default: --weights)
  -h, --help                Show this help
`;
