"""What `make bench` reports, beside each figure's goal and the figure of the previous run.

The previous figures are kept in previous.json beside this file (written at the end of every run), so each table
shows where the build stands against the one measured before it on the same machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREVIOUS = Path(__file__).with_name("previous.json")


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    goal: float | None = None
    """At most this (None: reported, no goal)."""
    digits: int = 1

    def show(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:,.{self.digits}f} {self.unit}".strip()

    def verdict(self, value: float | None) -> str:
        if self.goal is None or value is None:
            return ""
        return "met" if value <= self.goal else "MISSED"


def previous() -> dict[str, float]:
    try:
        data: dict[str, float] = json.loads(PREVIOUS.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def rows(figures: list[Figure], now: dict[str, float], before: dict[str, float]) -> list[list[str]]:
    """Label, now, goal, previous and verdict of every figure measured in this run."""
    return [
        [
            figure.label,
            figure.show(now.get(figure.key)),
            "" if figure.goal is None else f"<= {figure.show(figure.goal)}",
            figure.show(before.get(figure.key)),
            figure.verdict(now.get(figure.key)),
        ]
        for figure in figures
        if figure.key in now
    ]


def text_table(table: list[list[str]]) -> str:
    head = ["measure", "now", "goal", "previous", ""]
    widths = [max(len(row[column]) for row in [head, *table]) for column in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [head, *table]]
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(table: list[list[str]]) -> str:
    lines = ["| measure | now | goal | previous | |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def save(now: dict[str, Any]) -> None:
    PREVIOUS.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
