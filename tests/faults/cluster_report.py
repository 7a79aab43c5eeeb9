"""The cluster fault suite's report: a row per fault with its figures, the final checks, and
the table it prints (and the JSON it writes)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    fault: str
    at: float
    detail: str = ""
    recovery: float | None = None
    # Until the victim was whole again: broker in sync, old primary a sync standby, the
    # zombie or the isolated worker back in the group.
    back: float | None = None
    checkpoint: bool = False
    documents: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)
    during: str = ""
    # For the recovery figure: when it started, until when events sent count (the checkpoint,
    # or the next kill of a burst), and which partitions it touched (None: all).
    since: float = 0.0
    until: float = 0.0
    partitions: list[int] | None = None


@dataclass
class ClusterReport:
    plan: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    published: int = 0
    processed: int = 0
    outputs: int = 0
    redelivered_outputs: int = 0
    superseded_unannounced: list[str] = field(default_factory=list)
    drain_seconds: float = 0.0
    final: dict[str, list[str]] = field(default_factory=dict)
    final_status: str = ""
    unexpected_exits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not any(self.final.values())
            and not self.unexpected_exits
            and all(not r.problems and not r.lost and not r.duplicated for r in self.rows)
        )

    def table(self) -> str:
        head = (
            f"{'fault':<26}{'at s':>7}{'recover s':>10}{'back s':>8}{'docs':>6}{'lost':>5}"
            f"{'dup':>5}  detail"
        )
        lines = [head, "-" * 110]
        for r in self.rows:
            rec = f"{r.recovery:.1f}" if r.recovery is not None else "-"
            back = f"{r.back:.1f}" if r.back is not None else "-"
            figures = (
                f"{r.documents:>6}{r.lost:>5}{r.duplicated:>5}" if r.checkpoint else f"{'':>16}"
            )
            lines.append(f"{r.fault:<26}{r.at:>7.1f}{rec:>10}{back:>8}{figures}  {r.detail}")
            if r.during:
                lines.append(f"{'':<26}  status during: {r.during}")
            for problem in r.problems[:3]:
                lines.append(f"{'':<26}  PROBLEM {problem}")
        lines += [
            "-" * 110,
            f"events published / processed       {self.published} / {self.processed}",
            f"output events read / ids redelivered {self.outputs} / {self.redelivered_outputs}",
            "older versions never announced      "
            f"{len(self.superseded_unannounced)} {self.superseded_unannounced[:5]}",
            f"drain after the feed ended         {self.drain_seconds:.1f} s",
            f"status at the end                  {self.final_status}",
        ]
        for check, problems in self.final.items():
            verdict = "ok" if not problems else f"{len(problems)} problem(s): {problems[:3]}"
            lines.append(f"{check:<35}{verdict}")
        if self.unexpected_exits:
            lines.append(f"workers that exited by themselves: {self.unexpected_exits}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, default=str))
