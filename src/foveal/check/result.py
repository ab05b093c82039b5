"""What a check found: the scan, the facts of every file, the pairs, the label issues and the report's numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foveal.check.duplicates import Pair
from foveal.check.facts import Facts
from foveal.check.labels import LabelIssues
from foveal.check.scan import Scan


@dataclass
class CheckResult:
    scan: Scan
    facts: Facts
    pairs: list[Pair]
    labels: LabelIssues | None
    folder: Path
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)

    def leaks(self) -> list[Pair]:
        return [p for p in self.pairs if self.scan.items[p.a].split != self.scan.items[p.b].split]
