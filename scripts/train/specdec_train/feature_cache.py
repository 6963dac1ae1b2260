"""`features`: run a target once over the corpus and keep what the drafters learn from.

Folder (outside the repository): `$SPECDEC_FEATURES`, default
`~/.cache/specdec/features/<sha256(model.safetensors)[:16]>/`, with `manifest.json` (the target's
name and full sha256, tokenizer and corpus-manifest hashes, window, k, precision, and per split
the chunks written so far) and per chunk four numpy files (memory-mapped when read):

  <split>-<n>.tokens.npy       [windows, W + 1] u16   token ids (position W: the next token)
  <split>-<n>.hidden.npy       [windows, W, H]  f16   last hidden state after the final norm
  <split>-<n>.topk_values.npy  [windows, W, k]  f16   the target's k largest logits, descending
  <split>-<n>.topk_ids.npy     [windows, W, k]  u16   their token ids

Splits: `heldout` (every non-overlapping window of the held-out stream, in order), `train`
(non-overlapping windows of the training stream in a seeded random order, so a partial cache is
a uniform subsample), `selfgen` (the target's own greedy continuations of training-stream prompts:
sequence-level data, what greedy verification rewards). Chunks are written to a temporary name and
renamed, then the manifest is rewritten: an interrupted run resumes at the next chunk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .common import DATA, MODELS, RUNS, TOKENIZER_DIR, autocast, log, setup_torch
from .data import load_split
from .models import load_model
from .train_loop import PauseTolerantClock, until_budget, write_pid

FILES = ("tokens", "hidden", "topk_values", "topk_ids")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir_for(base_dir: Path) -> Path:
    env = os.environ.get("SPECDEC_FEATURES")
    if env:
        return Path(env).expanduser()
    sha = file_sha256(base_dir / "model.safetensors")
    return Path("~/.cache/specdec/features").expanduser() / sha[:16]


class Split:
    """The chunks of one split, read through memory maps."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name
        self._maps: dict[str, dict] = {}
        self.refresh()

    def refresh(self) -> None:
        m = json.loads((self.root / "manifest.json").read_text())
        self.window = m["window"]
        chunks = m["splits"].get(self.name, {}).get("chunks", [])
        self.chunks = [c["file"] for c in chunks]
        self.counts = np.array([c["windows"] for c in chunks], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.windows = int(self.offsets[-1])

    def _chunk(self, i: int) -> dict:
        name = self.chunks[i]
        if name not in self._maps:
            self._maps[name] = {f: np.load(self.root / f"{name}.{f}.npy", mmap_mode="r")
                                for f in FILES}
        return self._maps[name]

    def batch(self, indices, seq: int, rng: np.random.Generator | None = None,
              with_topk: bool = True) -> dict:
        """Windows `indices`, cut to `seq` positions (a random offset with `rng`, else 0):
        tokens `[B, seq + 1]`, hidden `[B, seq, H]`, topk_* `[B, seq, k]`."""
        out = {f: [] for f in FILES}
        for gi in indices:
            ci = int(np.searchsorted(self.offsets, gi, side="right") - 1)
            j = int(gi - self.offsets[ci])
            ch = self._chunk(ci)
            off = 0 if rng is None or seq >= self.window else int(rng.integers(0, self.window - seq + 1))
            out["tokens"].append(ch["tokens"][j, off:off + seq + 1])
            out["hidden"].append(ch["hidden"][j, off:off + seq])
            if with_topk:
                out["topk_values"].append(ch["topk_values"][j, off:off + seq])
                out["topk_ids"].append(ch["topk_ids"][j, off:off + seq])
        return {k: np.stack(v) for k, v in out.items() if v}


class FeatureCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / "manifest.json").exists():
            raise SystemExit(f"no feature cache at {root}: run `train.py features` first")
        self.manifest = json.loads((root / "manifest.json").read_text())

    def split(self, name: str) -> Split:
        return Split(self.root, name)


# ----------------------------------------------------------------------------------------------
# writing


def _write_manifest(root: Path, m: dict) -> None:
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(m, indent=1) + "\n")
    os.replace(tmp, root / "manifest.json")


@torch.no_grad()
def greedy_windows(base, prompts: torch.Tensor, total: int) -> torch.Tensor:
    """The base's greedy continuations of `prompts` `[B, P]` to `total` tokens: `[B, total]`."""
    ids, cur, past = prompts, prompts, None
    for _ in range(total - prompts.size(1)):
        out = base(input_ids=cur, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].float().argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
        cur = nxt
    return ids


def cmd_features(args: argparse.Namespace) -> None:
    setup_torch(args.threads)
    write_pid(args.pid_file)
    base_dir = MODELS / args.base
    sha = file_sha256(base_dir / "model.safetensors")
    root = Path(args.out).expanduser() if args.out else cache_dir_for(base_dir)
    root.mkdir(parents=True, exist_ok=True)
    tok_sha = file_sha256(TOKENIZER_DIR / "tokenizer.json")
    base_tok_sha = file_sha256(base_dir / "tokenizer.json")
    if tok_sha != base_tok_sha:
        raise SystemExit("runs/tokenizer/tokenizer.json is not the base's tokenizer: "
                         "run `train.py encode` (the committed tokenizer)")
    W, k = args.window, args.k
    info = {"target": args.base, "target_sha256": sha, "tokenizer_sha256": tok_sha,
            "corpus_manifest_sha256": file_sha256(DATA / "manifest.json"),
            "window": W, "k": k, "precision": args.precision,
            "hidden": "last hidden state after the final norm (what lm_head reads), float16",
            "topk": "the k largest logits (float16) and their ids (uint16), descending"}
    mpath = root / "manifest.json"
    if mpath.exists():
        m = json.loads(mpath.read_text())
        for key in ("target_sha256", "tokenizer_sha256", "corpus_manifest_sha256", "window", "k",
                    "precision"):
            if m.get(key) != info[key]:
                raise SystemExit(f"feature cache {root} was made with another {key} "
                                 f"({m.get(key)} != {info[key]}): use another --out")
    else:
        m = {**info, "splits": {}}
        _write_manifest(root, m)
    base = load_model(base_dir, torch.float32)
    H = base.config.hidden_size
    clock = PauseTolerantClock()
    budget = until_budget(args.until, args.max_minutes) * 60.0
    stats = shutil_disk(root)
    log(f"features {args.base}: cache {root} ({stats:.1f} GB free), budget {budget / 60:.0f} min")
    for split in args.splits.split(","):
        sm = m["splits"].setdefault(split, {"chunks": []})
        if split in ("train", "heldout"):
            data = load_split(split)
            n_win = (data.size - 1) // W
            if split == "train":
                order = np.random.default_rng([args.seed, 5]).permutation(n_win)
                if args.max_train_windows:
                    order = order[:args.max_train_windows]
            else:
                order = np.arange(n_win)[:args.max_heldout_windows]
            sm["windows_total"] = int(order.size)
            sm["source"] = (f"runs/data/{split}.bin, non-overlapping windows of {W} + 1 tokens"
                            + (f", seeded order (seed {args.seed})" if split == "train" else ""))
        else:  # selfgen
            data = load_split("train")
            order = np.arange(args.selfgen_windows)
            sm["windows_total"] = int(order.size)
            sm["source"] = (f"greedy continuations by {args.base} (fp32, KV cache) of "
                            f"{args.prompt_len}-token prompts from runs/data/train.bin "
                            f"(seed {args.seed}), to {W} + 1 tokens")
        done = sum(c["windows"] for c in sm["chunks"])
        while done < order.size:
            if clock.elapsed() > budget:
                log(f"features: wall-time budget reached ({split}: {done}/{order.size} windows)")
                _write_manifest(root, m)
                return
            free = shutil_disk(root)
            if free < args.min_free_gb:
                log(f"features: stopping, {free:.1f} GB free < {args.min_free_gb}")
                return
            sel = order[done:done + args.chunk]
            t0 = time.time()
            if split == "selfgen":
                rng = np.random.default_rng([args.seed, 17, done])
                starts = rng.integers(0, data.size - args.prompt_len - 1, size=sel.size)
                prompts = torch.from_numpy(np.stack(
                    [data[s:s + args.prompt_len] for s in starts]).astype(np.int64))
                rows = []
                for b0 in range(0, sel.size, args.gen_batch):
                    rows.append(greedy_windows(base, prompts[b0:b0 + args.gen_batch], W + 1))
                tokens = torch.cat(rows).numpy().astype(np.uint16)
            else:
                tokens = np.stack([data[i * W:i * W + W + 1] for i in sel]).astype(np.uint16)
            hid = np.empty((sel.size, W, H), dtype=np.float16)
            tv = np.empty((sel.size, W, k), dtype=np.float16)
            ti = np.empty((sel.size, W, k), dtype=np.uint16)
            for b0 in range(0, sel.size, args.batch):
                x = torch.from_numpy(tokens[b0:b0 + args.batch, :W].astype(np.int64))
                with torch.no_grad(), autocast(args.precision):
                    h = base.model(input_ids=x).last_hidden_state  # [B, W, H]
                    logits = base.lm_head(h).float()  # [B, W, V]
                top = logits.topk(k, -1)
                hid[b0:b0 + x.size(0)] = h.float().numpy().astype(np.float16)
                tv[b0:b0 + x.size(0)] = top.values.numpy().astype(np.float16)
                ti[b0:b0 + x.size(0)] = top.indices.numpy().astype(np.uint16)
            name = f"{split}-{len(sm['chunks']):05d}"
            for f, arr in zip(FILES, (tokens, hid, tv, ti)):
                tmp = root / f"{name}.{f}.tmp.npy"
                np.save(tmp, arr)
                os.replace(tmp, root / f"{name}.{f}.npy")
            sm["chunks"].append({"file": name, "windows": int(sel.size)})
            done += sel.size
            _write_manifest(root, m)
            dt = time.time() - t0
            log(f"features {split}: {done}/{order.size} windows "
                f"({sel.size * W / dt:.0f} tokens/s, {clock.elapsed() / 60:.1f} min)")
        log(f"features {split}: complete ({done} windows)")
    log(f"features: done -> {root}")


def shutil_disk(path: Path) -> float:
    import shutil
    return shutil.disk_usage(path).free / 1e9


def add_parsers(sp) -> None:
    c = sp.add_parser("features", help="run a target over the corpus -> feature cache")
    c.add_argument("--base", default="bench-target")
    c.add_argument("--out", default=None,
                   help="cache folder (default $SPECDEC_FEATURES, else "
                        "~/.cache/specdec/features/<sha256 prefix>/)")
    c.add_argument("--splits", default="heldout,selfgen,train",
                   help="comma-separated, in order: heldout, train, selfgen")
    c.add_argument("--window", type=int, default=256)
    c.add_argument("--k", type=int, default=32)
    c.add_argument("--chunk", type=int, default=64, help="windows per chunk file")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--max-train-windows", type=int, default=None, help="subsample the corpus")
    c.add_argument("--max-heldout-windows", type=int, default=None)
    c.add_argument("--selfgen-windows", type=int, default=512)
    c.add_argument("--prompt-len", type=int, default=32)
    c.add_argument("--gen-batch", type=int, default=64)
    c.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="the target's compute (fp32: the features the runtime sees)")
    c.add_argument("--max-minutes", type=float, default=120.0)
    c.add_argument("--until", default=None, help="HH:MM local: budget ends then")
    c.add_argument("--min-free-gb", type=float, default=20.0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--pid-file", default=str(RUNS / "train.pid"))
    c.set_defaults(func=cmd_features)


class Mixture:
    """Random training windows from several splits of one cache: `fracs` gives a split's share
    of each batch (None: in proportion to its windows). Reloads the manifest every
    `refresh_every` batches, so training reads chunks a running `features` job adds."""

    def __init__(self, cache: FeatureCache, names: list[str], fracs: dict[str, float] | None = None,
                 refresh_every: int = 50) -> None:
        self.splits = [cache.split(n) for n in names]
        self.fracs = fracs or {}
        self.refresh_every = refresh_every
        self.calls = 0

    def describe(self) -> str:
        return ", ".join(f"{s.name} {s.windows} windows" for s in self.splits)

    def batch(self, rng: np.random.Generator, size: int, seq: int) -> dict:
        self.calls += 1
        if self.calls % self.refresh_every == 0:
            for s in self.splits:
                s.refresh()
        live = [s for s in self.splits if s.windows > 0]
        fixed = {s.name: self.fracs[s.name] for s in live if s.name in self.fracs}
        rest = [s for s in live if s.name not in fixed]
        left = max(0.0, 1.0 - sum(fixed.values()))
        total = sum(s.windows for s in rest)
        p = np.array([fixed[s.name] if s.name in fixed else left * s.windows / max(1, total)
                      for s in live])
        p = p / p.sum()
        which = rng.choice(len(live), size=size, p=p)
        parts = []
        for i, s in enumerate(live):
            n = int((which == i).sum())
            if n:
                parts.append(s.batch(rng.integers(0, s.windows, size=n), seq, rng=rng))
        return {k: np.concatenate([b[k] for b in parts]) for k in parts[0]}
