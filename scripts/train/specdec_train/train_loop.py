"""Pieces every long-running stage shares: a pause-tolerant clock and the PID file.

The lead pauses training with SIGSTOP while benchmarking and resumes it with SIGCONT. A stopped
process sees one long gap between two steps; the clock counts a gap longer than `pause_s` as a
pause, not as training time, so a wall-time budget is spent on training only.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from pathlib import Path


class PauseTolerantClock:
    """Elapsed training seconds: wall time minus the time the process was stopped.

    A daemon thread ticks every second; a stopped process stops it too, so a gap longer than
    `pause_s` between two ticks is a pause (SIGSTOP ... SIGCONT), not training time."""

    def __init__(self, pause_s: float = 15.0) -> None:
        self.before = 0.0  # seconds from earlier runs (resume)
        self.pause_s = pause_s
        self.start = time.time()
        self.paused_s = 0.0
        self._lock = threading.Lock()
        t = threading.Thread(target=self._tick, daemon=True)
        t.start()

    def _tick(self) -> None:
        last = time.time()
        while True:
            time.sleep(1.0)
            now = time.time()
            if now - last > self.pause_s:
                with self._lock:
                    self.paused_s += now - last - 1.0
            last = now

    def elapsed(self) -> float:
        with self._lock:
            return self.before + (time.time() - self.start) - self.paused_s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pid(path: str | None) -> None:
    """Adds this process's id to `path` (runs/train.pid by default), one id a line, dropping ids
    of processes that have ended; removes it again at exit. `kill -STOP $(cat runs/train.pid)`
    pauses every running stage, `kill -CONT $(cat runs/train.pid)` resumes them."""
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    ids = []
    if p.exists():
        ids = [int(x) for x in p.read_text().split() if x.isdigit() and int(x) != me]
    ids = [i for i in ids if _alive(i)] + [me]
    p.write_text("".join(f"{i}\n" for i in ids))

    def remove() -> None:
        if p.exists():
            left = [int(x) for x in p.read_text().split() if x.isdigit() and int(x) != me]
            p.write_text("".join(f"{i}\n" for i in left))

    atexit.register(remove)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def until_budget(until: str | None, max_minutes: float) -> float:
    """A budget in minutes: `--max-minutes`, or the minutes left until `HH:MM` today (local)."""
    if not until:
        return max_minutes
    h, m = (int(x) for x in until.split(":"))
    now = time.localtime()
    target = time.mktime((now.tm_year, now.tm_mon, now.tm_mday, h, m, 0, 0, 0, -1))
    return max(0.0, (target - time.time()) / 60.0)


def parse_fracs(text: str | None) -> dict[str, float]:
    """`"selfgen=0.3,train=0.5"` -> {"selfgen": 0.3, "train": 0.5}."""
    out = {}
    for part in (text or "").split(","):
        if part.strip():
            k, v = part.split("=")
            out[k.strip()] = float(v)
    return out


def time_lr(peak: float, step: int, warmup: int, elapsed: float, budget: float,
            decay_frac: float) -> float:
    """Warmup over `warmup` steps, constant, then a linear decay to 10% over the last
    `decay_frac` of the wall-time budget (time-based: no step count to plan)."""
    lr = peak * min(1.0, (step + 1) / warmup)
    start = budget * (1.0 - decay_frac)
    if decay_frac > 0 and elapsed > start:
        lr *= 1.0 - 0.9 * min(1.0, (elapsed - start) / max(1.0, budget - start))
    return lr
