"""Where a run's time goes: the step's own (forward and backward), the update (clipping, the
optimiser), batches, evaluations, checkpoints, reporting (the progress bar, the metrics log, the
loss curve), and the rest (the loop itself).

The loop times each part as it runs, and the run's summary says what share of the time each took,
so a user can tell what the machine gave to learning. On a GPU the clock is the CPU's: work the
GPU has queued is waited for at the next loss, so the step's own share then holds it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

PARTS = ("learn", "update", "batches", "evaluations", "checkpoints", "reporting")
NAMES = {"learn": "the step's own (forward and backward)", "update": "the update (clipping, optimiser)",
         "batches": "batches", "evaluations": "evaluations", "checkpoints": "checkpoints",
         "reporting": "progress and the loss curve", "rest": "the rest"}


@dataclass
class TimeShares:
    """Seconds spent per part of the loop in this session, and the first step's on its own (it
    holds one-off work: kernels chosen, memory laid out)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    first_step: float | None = None
    started: float = field(default_factory=time.perf_counter)

    @contextlib.contextmanager
    def timing(self, part: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] += time.perf_counter() - start

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] += seconds

    def shares(self) -> dict[str, float]:
        """Each part's share of the session's time so far, "rest" included (they add up to 1)."""
        total = max(time.perf_counter() - self.started, 1e-9)
        out = {part: s / total for part, s in self.seconds.items()}
        out["rest"] = max(0.0, 1.0 - sum(out.values()))
        return out

    def report(self) -> dict:
        """What the run's end event carries: the shares, the first step's seconds, the total."""
        return {"shares": self.shares(), "first_step": self.first_step,
                "seconds": time.perf_counter() - self.started}


def describe(report: dict) -> str:
    """One line: "time: 87.1% the step's own (forward and backward), 4.0% the update ..."."""
    shares = report["shares"]
    parts = ", ".join(f"{100 * shares[p]:.1f}% {NAMES[p]}" for p in (*PARTS, "rest"))
    first = f"; the first step took {report['first_step']:.2f} s" if report.get("first_step") is not None else ""
    return f"time ({report['seconds']:.0f} s): {parts}{first}"
