"""Write docs/data-dictionary.md from the metric catalogue, so the two never disagree.

.venv/bin/python scripts/data_dictionary.py          # rewrite the file
.venv/bin/python scripts/data_dictionary.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flotilla.catalogue import current  # noqa: E402

TARGET = ROOT / "docs" / "data-dictionary.md"


def render() -> str:
    cat = current()
    out = [
        "# Data dictionary",
        "",
        f"Generated from `flotilla/catalogue/v1.toml` (catalogue version "
        f"{cat.version}) by `scripts/data_dictionary.py`; do not edit by hand.",
        "",
        "Every value is stored with the time it was true (`as_of`), who reported it, how "
        "(form, API, file import, demo) and when it was received. A value is a number, a text "
        "(narrative) or missing with a reason (`not_reported`, `not_applicable`, `unknown`, "
        "`invalid`, `withheld_at_source`): missing is never zero. Rates such as occupancy are "
        "never stored: they are derived from counts (occupied ÷ open) when shown.",
        "",
        "## Measure groups",
        "",
        "A sharing grant shares whole groups.",
        "",
        "| Group | Name | What it holds |",
        "|---|---|---|",
        *(f"| `{g.code}` | {g.label} | {g.description} |" for g in cat.groups),
        "",
        "## Measures",
        "",
        "| Code | Meaning | Group | Kind | Unit | Valid range |",
        "|---|---|---|---|---|---|",
    ]
    for m in cat.measures:
        valid = (
            f"{m.min_value:g} to {m.max_value:g}"
            if m.min_value is not None and m.max_value is not None
            else ""
        )
        out.append(
            f"| `{m.code}` | {m.label}. {m.description} | {m.group} | {m.kind} | {m.unit} "
            f"| {valid} |"
        )
    out += [
        "",
        "## Cross-field rules",
        "",
        "A warning is shown and the value stored; an error rejects the whole report.",
        "",
        "| Rule | Check | Severity | Message |",
        "|---|---|---|---|",
    ]
    for r in cat.rules:
        op = "≤" if r.op == "le" else "≥"
        out.append(f"| `{r.code}` | `{r.left}` {op} `{r.right}` | {r.severity} | {r.message} |")
    out += [
        "",
        "## Rated indicators",
        "",
        "Each is rated red at or above its red threshold, amber at or above amber, else green. "
        "The thresholds below are Flotilla's standard ones: a new collaborative starts with "
        "them and its coordinators may change its own.",
        "",
        "| Indicator | Name | Computed from | Standard amber | Standard red | Higher is |",
        "|---|---|---|---|---|---|",
    ]
    for i in cat.indicators:
        worse = "worse" if i.higher_is_worse else "better"
        out.append(
            f"| `{i.code}` | {i.label} | {i.derivation} | {i.amber:g} | {i.red:g} | {worse} |"
        )
    out += [
        "",
        "Collaborative totals: each count's total is each organisation's own figure, else the "
        "sum of its sites'; only exact figures the viewer is shown are added; marked incomplete "
        "(n/m) when any member's figure is missing, not shared, banded or status only. Levels "
        "and texts have no total.",
        "",
        "## Dashboard columns",
        "",
        "After the organisation or site, in this order, then when it last reported. Narrowing "
        "the table to a bed type hides the other bed types' columns.",
        "",
        "| Column | Shows | Bed type | Rated |",
        "|---|---|---|---|",
    ]
    for c in cat.columns:
        out.append(
            f"| {c.heading} | `{c.key}` | {c.bed_type and f'`{c.bed_type}`'} "
            f"| {'yes' if c.indicator else ''} |"
        )
    out += [
        "",
        "## Forecasts",
        "",
        f"Forecast daily, 1 to {cat.forecast_days} days ahead, for each organisation and site "
        "that reports them (see [planning.md](planning.md#forecasts-in-the-app)); a forecast "
        "is shared as its measure's group is: "
        + ", ".join(f"`{c}`" for c in cat.forecast_measures)
        + ".",
        "",
        "## How each kind of value is shared",
        "",
        "An organisation's sharing grants name measure groups (the Group column above) and a "
        "detail. Occupancy is computed from the exact counts before it is banded.",
        "",
        "| Kind | Exact | Banded | Status only |",
        "|---|---|---|---|",
        "| count | as reported | rounded to the nearest 5 (halves up) | not shown; RAG rating "
        "against the standard thresholds |",
        "| level | as reported | as reported | as reported (the OPEL level) |",
        "| text | as reported | not shared | not shared |",
        "| occupancy (derived) | to one decimal place | in a 5-point band (e.g. 90–95%) | "
        "RAG rating only, against the standard thresholds |",
        "",
        "RAG ratings on exact figures use the collaborative's thresholds; on banded figures, the "
        "figure as shown; on status only, the standard thresholds (see Rated indicators).",
        "",
        "File formats and the sitrep column map are in [import-formats.md](import-formats.md).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        ok = TARGET.exists() and TARGET.read_text() == text
        print("data dictionary is current" if ok else "docs/data-dictionary.md is out of date")
        sys.exit(0 if ok else 1)
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
