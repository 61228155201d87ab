"""Steps of a run with their status and duration, printed as one table at the end."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

PASSED = "passed"
FAILED = "FAILED"
SKIPPED = "skipped"
WAITING = "WAITING"


@dataclass
class Step:
    name: str
    status: str
    seconds: float
    detail: str = ""


class StepFailed(Exception):
    """Raised inside a step to fail it with a message (the run goes on where it can)."""


class Report:
    def __init__(self, clock=time.monotonic):
        self.steps = []
        self.clock = clock

    def add(self, name, status, seconds=0.0, detail="") -> Step:
        step = Step(name, status, float(seconds), detail)
        self.steps.append(step)
        marker = {PASSED: "ok", FAILED: "FAILED", SKIPPED: "skipped", WAITING: "waiting"}.get(status, status)
        print(f"[integ] {name}: {marker}{' - ' + detail if detail else ''}", flush=True)
        return step

    @contextmanager
    def step(self, name):
        """``with report.step("deploy tools:foundation") as note:`` -- ``note["detail"] = ...``;
        ``StepFailed`` (or any exception) fails the step and is re-raised."""
        start = self.clock()
        note = {"detail": "", "status": PASSED}
        try:
            yield note
        except BaseException as err:
            self.add(name, FAILED, self.clock() - start, note["detail"] or _one_line(err))
            raise
        self.add(name, note["status"], self.clock() - start, note["detail"])

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.status in (PASSED, SKIPPED) for s in self.steps)

    def table(self) -> str:
        rows = [("step", "status", "seconds", "detail")]
        rows += [(s.name, s.status, f"{s.seconds:.0f}", s.detail) for s in self.steps]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = []
        for i, row in enumerate(rows):
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths) + "  ------")
        failed = sum(s.status not in (PASSED, SKIPPED) for s in self.steps)
        lines.append(f"{len(self.steps)} steps, {failed} not passed: " + ("PASSED" if self.passed else "NOT PASSED"))
        return "\n".join(lines)


def _one_line(err) -> str:
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    try:
        from ..deploy.errors import one_line

        return one_line(err) if not isinstance(err, StepFailed) else " ".join(str(err).split())
    except Exception:  # pragma: no cover
        return str(err)
