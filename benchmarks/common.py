"""What every benchmark shares: a Figure (one row of the table), medians, the table and its JSON.

A figure is measured `runs` times; each run measures the bot's value AND the comparison in the
same run, so the ratio of a run is not skewed by the machine getting busier between the two.
The table shows the median value, the median comparison and the median of the per-run ratios.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE_FEED = ROOT / "examples" / "bwr-feed.xml"


@dataclass(frozen=True)
class Config:
    """How hard to measure: `runs` repetitions of each figure, `quick` = small loops."""

    runs: int = 5
    quick: bool = False

    def loops(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Figure:
    """One row: the bot's value next to the comparison, their ratio, and the target.

    `target` is a readable bound ("<= 3x", "< 80 MB", "0"); `check(value, ratio)` decides `met`.
    `comparison` is None when there is nothing to compare with (e.g. resident memory)."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    comparisons: list[float] = field(default_factory=list)
    target: str = ""
    compared_with: str = ""
    check: Callable[[float, float | None], bool] | None = field(default=None, repr=False)
    note: str = ""

    def add(self, value: float, comparison: float | None = None) -> None:
        self.values.append(float(value))
        if comparison is not None:
            self.comparisons.append(float(comparison))

    @property
    def value(self) -> float:
        return statistics.median(self.values)

    @property
    def comparison(self) -> float | None:
        return statistics.median(self.comparisons) if self.comparisons else None

    @property
    def ratio(self) -> float | None:
        """Median of the per-run ratios value/comparison (None without a comparison or when a
        comparison is 0)."""
        pairs = list(zip(self.values, self.comparisons, strict=False))
        if not pairs or any(c == 0 for _, c in pairs):
            return None
        return statistics.median(v / c for v, c in pairs)

    @property
    def met(self) -> bool | None:
        if self.check is None or not self.values:
            return None
        return bool(self.check(self.value, self.ratio))

    def as_json(self) -> dict[str, Any]:
        row = {
            "figure": self.name,
            "unit": self.unit,
            "value": self.value,
            "comparison": self.comparison,
            "compared_with": self.compared_with or None,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "runs": len(self.values),
            "values": self.values,
            "comparisons": self.comparisons,
        }
        if self.note:
            row["note"] = self.note
        return row


def timed(fn: Callable[[], Any], loops: int = 1, cpu: bool = False) -> float:
    """Seconds per call of `fn`, averaged over `loops` calls: wall time, or this process's CPU
    time with `cpu` (steadier on a shared machine for single-threaded work)."""
    clock = time.process_time if cpu else time.perf_counter
    start = clock()
    for _ in range(loops):
        fn()
    return (clock() - start) / loops


def from_tests(module: str) -> Any:
    """A helper module of tests/ (its loopback servers and PDS fixture), imported by name."""
    import importlib

    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(module)


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if unit == "s":
        return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"
    if float(x).is_integer():
        text = f"{int(x)}"
    elif abs(x) >= 100:
        text = f"{x:.0f}"
    else:
        text = f"{x:.2f}"
    return f"{text} {unit}".rstrip() if unit and unit != "count" else text


def table(figures: Sequence[Figure]) -> str:
    """The one table: figure, value, comparison, ratio, target, met."""
    head = ("figure", "value", "comparison", "ratio", "target", "met")
    rows = [head]
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        comparison = _num(f.comparison, f.unit)
        if f.compared_with and f.comparison is not None:
            comparison = f"{comparison} ({f.compared_with})"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        rows.append((f.name, _num(f.value, f.unit), comparison, ratio, f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(
    path: Path, figures: Sequence[Figure], config: Config, extra: dict[str, Any]
) -> None:
    data = {
        "runs": config.runs,
        "quick": config.quick,
        "python": sys.version.split()[0],
        **extra,
        "figures": [f.as_json() for f in figures],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["Config", "Figure", "FIXTURES", "ROOT", "SAMPLE_FEED", "asdict", "log", "table", "timed",
           "write_json"]
