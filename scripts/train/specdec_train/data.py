"""Corpus (stdlib sources, manifest, split by file), tokenizer, encoded token streams."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import *

# ----------------------------------------------------------------------------------------------
# corpus


def is_generated(text: str) -> bool:
    head = text[:300].lower()
    return any(m in head for m in GENERATED_MARKERS)


def cmd_corpus(args: argparse.Namespace) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    files = []
    skipped_generated = []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        parts = set(rel.parts[:-1])
        if parts & SKIP_DIRS or any(p.startswith("config-") for p in rel.parts[:-1]):
            continue
        if rel.name.startswith("_sysconfigdata") or rel.name.startswith("test_"):
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if is_generated(text) or rel.as_posix() == "pydoc_data/topics.py":
            skipped_generated.append(rel.as_posix())
            continue
        if len(raw) == 0:
            continue
        digest = hashlib.sha256(raw).hexdigest()
        split_key = int(hashlib.sha256(rel.as_posix().encode()).hexdigest()[:8], 16) % 100
        split = "heldout" if split_key < HELDOUT_PERCENT else "train"
        files.append({"path": rel.as_posix(), "bytes": len(raw), "sha256": digest, "split": split})
    DATA.mkdir(parents=True, exist_ok=True)
    manifest = {
        "source": "Python standard library sources (sysconfig stdlib path)",
        "python": platform.python_version(),
        "stdlib_root": str(stdlib),
        "heldout_rule": f"int(sha256(relative path)[:8], 16) % 100 < {HELDOUT_PERCENT}",
        "skipped_dirs": sorted(SKIP_DIRS),
        "skipped_generated": skipped_generated,
        "files": files,
    }
    (DATA / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for split in ("train", "heldout"):
        n = sum(1 for f in files if f["split"] == split)
        b = sum(f["bytes"] for f in files if f["split"] == split)
        log(f"corpus {split}: {n} files, {b} bytes")
    log(f"skipped {len(skipped_generated)} generated files")


def corpus_texts(split: str) -> list[tuple[str, str]]:
    manifest = json.loads((DATA / "manifest.json").read_text())
    root = Path(manifest["stdlib_root"])
    out = []
    for f in manifest["files"]:
        if f["split"] != split:
            continue
        raw = (root / f["path"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != f["sha256"]:
            raise SystemExit(f"corpus file changed since the manifest was written: {f['path']}")
        out.append((f["path"], raw.decode("utf-8")))
    return out


# ----------------------------------------------------------------------------------------------
# tokenizer


def cmd_tokenizer(args: argparse.Namespace) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = [t for _, t in corpus_texts("train")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab_size,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    TOKENIZER_DIR.mkdir(parents=True, exist_ok=True)
    tok.save(str(TOKENIZER_DIR / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "model_max_length": MAX_POSITIONS,
        "clean_up_tokenization_spaces": False,
    }
    (TOKENIZER_DIR / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (TOKENIZER_DIR / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}, indent=2) + "\n")
    log(f"tokenizer: vocab {tok.get_vocab_size()}")
    encode_corpus()


def load_tokenizer():
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))


def encode_corpus() -> None:
    """Token streams `[BOS] file [EOS]` per file, concatenated, uint16, one per split."""
    tok = load_tokenizer()
    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    stats = {}
    for split in ("train", "heldout"):
        items = corpus_texts(split)
        encs = tok.encode_batch([t for _, t in items], add_special_tokens=False)
        ids: list[int] = []
        for e in encs:
            ids.append(bos)
            ids.extend(e.ids)
            ids.append(eos)
        arr = np.asarray(ids, dtype=np.uint16)  # [N] u16
        arr.tofile(DATA / f"{split}.bin")
        nbytes = sum(len(t.encode()) for _, t in items)
        stats[split] = {"files": len(items), "bytes": nbytes, "tokens": int(arr.size),
                        "bytes_per_token": round(nbytes / max(1, arr.size), 3)}
        log(f"encoded {split}: {arr.size} tokens ({stats[split]['bytes_per_token']} bytes/token)")
    (DATA / "tokens.json").write_text(json.dumps(stats, indent=1))


def cmd_encode(args: argparse.Namespace) -> None:
    """Encodes the corpus with a committed tokenizer (never a retrained one): copies its files to
    runs/tokenizer/ and writes runs/data/{train,heldout}.bin."""
    src = Path(args.tokenizer).resolve().parent
    TOKENIZER_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(src / name, TOKENIZER_DIR / name)
    log(f"tokenizer: {src / 'tokenizer.json'} -> {TOKENIZER_DIR}")
    encode_corpus()


def load_split(split: str) -> np.ndarray:
    return np.fromfile(DATA / f"{split}.bin", dtype=np.uint16)  # [N] u16


def copy_tokenizer(dst: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(TOKENIZER_DIR / name, dst / name)


# ----------------------------------------------------------------------------------------------
# training helpers


def batch_at(data: np.ndarray, step: int, seed: int, batch: int, seq: int) -> torch.Tensor:
    """Deterministic random windows for one step: `[batch, seq + 1]` i64."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, data.size - seq - 1, size=batch)
    rows = np.stack([data[s:s + seq + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(rows)


def eval_prompts(n: int, length: int, seed: int) -> torch.Tensor:
    held = load_split("heldout")
    rng = np.random.default_rng([seed, 99])
    starts = rng.integers(0, held.size - length - 1, size=n)
    return torch.from_numpy(np.stack([held[s:s + length] for s in starts]).astype(np.int64))


