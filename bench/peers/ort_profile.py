#!/usr/bin/env python3
"""ONNX Runtime's own per-node profile of a prepared decoder graph, by number of new tokens S.

The graph is one that `CausalLM.load` wrote into the prepared-model cache
(`$SPECDEC_CACHE/prepared/<key>/graph-<key>.onnx`, its weights in `weights.bin` beside it).
The KV buffers are bound as both past and present (IO binding), as the library does, after a
context of P tokens; each S runs `--runs` times in its own profiled session.

Usage: python bench/peers/ort_profile.py GRAPH.onnx [--threads 2] [--context 256]
         [--sizes 1,2,4,8] [--runs 20] [--json out.json]
Needs `onnxruntime` and `numpy` (`pip install onnxruntime numpy`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort


def profile(graph: str, threads: int, context: int, size: int, runs: int) -> dict:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    s = ort.InferenceSession(graph, so, providers=["CPUExecutionProvider"])
    kv = {i.name: np.zeros(i.shape, np.float32) for i in s.get_inputs() if i.name.startswith("past_")}
    T = context + size
    feeds = {
        "input_ids": (np.arange(size, dtype=np.int64) * 7 + 5) % 100,
        "position_ids": (np.arange(size, dtype=np.int64) + context)[None],
        "seqlens_k": np.array([T - 1], np.int32),
        "total_sequence_length": np.array([T], np.int32),
        "attention_bias": np.triu(np.full((size, T), -3.0e38, np.float32), context + 1)[None, None],
        "logit_rows": np.arange(size, dtype=np.int64),  # every row, as verification needs
    }
    io = s.io_binding()
    for name, value in feeds.items():
        io.bind_cpu_input(name, value)
    for name, buf in kv.items():  # past and present share one buffer, written in place
        io.bind_cpu_input(name, buf)
        out = name.replace("past_", "present_")
        io.bind_output(out, "cpu", 0, np.float32, list(buf.shape), buf.ctypes.data)
    for name in ("logits", "hidden"):
        io.bind_output(name, "cpu")
    for _ in range(3):
        s.run_with_iobinding(io)
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        s.run_with_iobinding(io)
        best = min(best, time.perf_counter() - t)
    path = s.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    by_op: dict[str, float] = collections.defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"] / 1000 / (runs + 3)
    return {"size": size, "best_ms": best * 1000,
            "kernel_ms": dict(sorted(by_op.items(), key=lambda kv: -kv[1]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("graph")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = [profile(a.graph, a.threads, a.context, int(s), a.runs) for s in a.sizes.split(",")]
    base = rows[0]["best_ms"]
    for r in rows:
        total = sum(r["kernel_ms"].values())
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(r["kernel_ms"].items())[:6])
        print(f"S={r['size']}: {r['best_ms']:.3f} ms (V {r['best_ms'] / base:.2f}); "
              f"kernels {total:.3f} ms: {top}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"graph": a.graph, "threads": a.threads, "context": a.context, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
