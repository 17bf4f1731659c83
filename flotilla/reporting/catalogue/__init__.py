"""The metric catalogue: a versioned data file describing every measure and rule."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).with_name("v1.toml")


@dataclass(frozen=True)
class MeasureSpec:
    code: str
    label: str
    description: str
    group: str
    kind: str
    unit: str
    min_value: float | None = None
    max_value: float | None = None
    bed_type: str = ""
    state: str = ""
    level: str = "either"
    order: int = 0


@dataclass(frozen=True)
class RuleSpec:
    code: str
    left: str
    op: str
    right: str
    severity: str
    message: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    measures: tuple[MeasureSpec, ...]
    rules: tuple[RuleSpec, ...]
    bed_types: dict[str, str] = field(default_factory=dict)

    def measure(self, code: str) -> MeasureSpec:
        for m in self.measures:
            if m.code == code:
                return m
        raise KeyError(code)


def parse(data: dict[str, Any]) -> Catalogue:
    """Expand the file's bed-type × state matrix and rule templates into plain specs."""
    measures: list[MeasureSpec] = []
    order = 0
    bed_max = float(data["bed_count_max"])
    for bed, bed_info in data["bed_types"].items():
        for state, state_info in data["states"].items():
            order += 1
            measures.append(
                MeasureSpec(
                    code=f"{bed}_{state}",
                    label=f"{bed_info['label']}: beds {state_info['label']}",
                    description=f"{bed_info['description']} {state_info['description']}",
                    group="capacity",
                    kind="count",
                    unit="beds",
                    min_value=0,
                    max_value=bed_max,
                    bed_type=bed,
                    state=state,
                    order=order,
                )
            )
    for m in data["measures"]:
        order += 1
        measures.append(
            MeasureSpec(
                code=m["code"],
                label=m["label"],
                description=m["description"],
                group=m["group"],
                kind=m["kind"],
                unit=m["unit"],
                min_value=m.get("min"),
                max_value=m.get("max"),
                bed_type=m.get("bed_type", ""),
                level=m.get("level", "either"),
                order=order,
            )
        )
    codes = {m.code for m in measures}
    rules: list[RuleSpec] = []
    for r in data["rules"]:
        beds = list(data["bed_types"]) if "{bed}" in r["code"] else [None]
        for bed in beds:
            fill = (lambda s, b=bed: s.replace("{bed}", b)) if bed else (lambda s: s)
            rule = RuleSpec(
                code=fill(r["code"]),
                left=fill(r["left"]),
                op=r["op"],
                right=fill(r["right"]),
                severity=r["severity"],
                message=r["message"],
            )
            missing = {rule.left, rule.right} - codes
            if missing:
                raise ValueError(f"rule {rule.code} names unknown measures {sorted(missing)}")
            rules.append(rule)
    bed_types = {bed: info["label"] for bed, info in data["bed_types"].items()}
    return Catalogue(
        version=data["version"], measures=tuple(measures), rules=tuple(rules), bed_types=bed_types
    )


@cache
def current() -> Catalogue:
    with CATALOGUE_FILE.open("rb") as f:
        return parse(tomllib.load(f))
