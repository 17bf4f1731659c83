"""How figures and times are written on pages and in exports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from markupsafe import Markup, escape

MISSING = "–"


def local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


def when(value: datetime | None, now: datetime | None = None) -> str:
    """A time as a bed manager reads it: '26 Nov 14:05', with the year ('26 Nov 2025 14:05')
    when it is not this year, so last winter's figures are never read as this winter's."""
    if value is None:
        return MISSING
    local_value = timezone.localtime(value)
    if local_value.year != timezone.localtime(now or timezone.now()).year:
        return local_value.strftime("%-d %b %Y %H:%M")
    return local_value.strftime("%-d %b %H:%M")


def day(value: date | None, now: datetime | None = None) -> str:
    """A day as a bed manager reads it: 'Thu 3 Dec', with the year ('Thu 3 Dec 2025') when
    it is not this year."""
    if value is None:
        return MISSING
    if value.year != timezone.localtime(now or timezone.now()).year:
        return value.strftime("%a %-d %b %Y")
    return value.strftime("%a %-d %b")


def plural(count: int, singular: str, plural_form: str = "") -> str:
    """'1 organisation', '2 organisations' (or the plural form given: 'person', 'people')."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def number(value: float | None, places: int = 0) -> str:
    if value is None:
        return MISSING
    if places == 0 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{places}f}"


def percent(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:.1f}%"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 90:
        return "just now"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} days ago"


NOT_SHARED = Markup(
    '<span class="flotilla-withheld" title="Not shared with you">not shared'
    '<span class="nhsuk-u-visually-hidden"> with you</span></span>'
)
NOT_REPORTED = Markup(
    '<span class="flotilla-missing" title="Not reported">–'
    '<span class="nhsuk-u-visually-hidden"> not reported</span></span>'
)


def why_missing(withheld: bool = False, delayed: int = 0) -> str:
    """Why there is no figure, in words: the owner does not share it with the viewer; it
    reported one, but shares it `delayed` hours late and nothing older is visible; or it
    reported none."""
    if withheld:
        return "not shared with you"
    if delayed:
        return f"not yet visible — shared {delayed} hours late"
    return "not reported"


def absent_html(withheld: bool = False, delayed: int = 0) -> Markup:
    """A table cell with no figure, saying why (`why_missing`); the hours late are marked
    like a late figure's, so that no title holds a number."""
    if withheld:
        return NOT_SHARED
    if delayed:
        return Markup(
            '<span class="flotilla-delayed" title="Not yet visible: reported, but newer than '
            f'what is shared with you so far">not yet visible</span>{_late_by(delayed)}'
        )
    return NOT_REPORTED


STATUS_ONLY = (
    '<span class="flotilla-status" title="Shared as status only: its RAG rating is judged '
    "against Flotilla's standard thresholds\">status</span>"
)


def _late_by(hours: int) -> str:
    return f' <span class="flotilla-late" title="Shared {hours} hours late">({hours} h late)</span>'


def _late(fig: Any) -> str:
    if not getattr(fig, "delay_hours", 0):
        return ""
    return _late_by(int(fig.delay_hours))


def figure_html(fig: Any, withheld: bool = False, places: int = 0, delayed: int = 0) -> Markup:
    """A figure as a table cell shows it: the number, 'missing' with why, or why there is
    none (`absent_html`: not reported, not shared with you, not yet visible); stale figures
    marked; a figure the owner shares rounded, or as status only, said so. Written in Python,
    not a template macro: a dashboard shows hundreds."""
    if fig is None:
        return absent_html(withheld, delayed)
    late = _late(fig)
    if fig.is_missing:
        reason = escape(fig.missing_reason.replace("_", " "))
        return Markup(
            f'<span class="flotilla-missing" title="Missing: {reason}">missing'
            f'<span class="nhsuk-u-visually-hidden"> ({reason})</span></span>{late}'
        )
    if fig.value is None and fig.text is None:
        return Markup(STATUS_ONLY + late)
    shown = escape(number(fig.value, places))
    if fig.detail == "banded" and fig.kind == "count":
        shown = Markup(
            f'<span title="Rounded to the nearest 5">≈{shown}'
            '<span class="nhsuk-u-visually-hidden"> (rounded to the nearest 5)</span></span>'
        )
    if not fig.stale:
        return Markup(f"<span>{shown}</span>{late}")
    as_of = escape(when(fig.as_of))
    return Markup(
        f'<span class="flotilla-stale" title="Stale: as of {as_of}">{shown}'
        f'<span class="nhsuk-u-visually-hidden"> (stale, as of {as_of})</span></span>{late}'
    )


def occupancy_html(fig: Any, withheld: bool = False, delayed: int = 0) -> Markup:
    """An occupancy as shared: a percentage, a 5-point band, or 'status' (its RAG only); or
    why there is none (`absent_html`)."""
    if fig is None:
        return absent_html(withheld, delayed)
    late = _late(fig)
    if fig.band is not None:
        lo, hi = (round(b * 100) for b in fig.band)
        return Markup(f'<span title="In a 5-point band">{lo}–{hi}%</span>{late}')
    if fig.value is None:
        return Markup(STATUS_ONLY + late)
    return Markup(f"<span>{escape(percent(fig.value))}</span>{late}")


def rag_html(band: str, content: Any) -> Markup:
    """A value in its red, amber or green band (the band also said in words for screen readers)."""
    said = "" if band == "none" else f'<span class="nhsuk-u-visually-hidden"> ({band})</span>'
    return Markup(
        f'<span class="flotilla-rag flotilla-rag--{escape(band)}">{escape(content)}{said}</span>'
    )


def cell_html(row: Any, code: str, rag_codes: Any, expected: Any = None, days: int = 3) -> Markup:
    """One dashboard cell: the figure as shared, in its RAG band where the code has one; with
    `expected` (a forecast's day as the viewer may see it: `median`, `values`), what it
    expects `days` days ahead beneath."""
    inner = figure_html(
        row.figures.get(code), code in row.withheld, delayed=row.delayed.get(code, 0)
    )
    if code in rag_codes:
        inner = rag_html(row.rag(code), inner)
    if expected is not None:
        lo, hi = number(expected.values[0.025]), number(expected.values[0.975])
        inner = Markup(
            f'{inner}<span class="flotilla-expected" title="95% between {lo} and {hi}">'
            f"in {days} days: {number(expected.median)}</span>"
        )
    return Markup(f'<td data-measure="{escape(code)}">{inner}</td>')


def occupancy_cell_html(row: Any, bed: str) -> Markup:
    """One dashboard occupancy cell, in its RAG band."""
    code = f"{bed}_occupancy"
    occupied = f"{bed}_occupied"
    shown = occupancy_html(
        row.derived.get(code), occupied in row.withheld, row.delayed.get(occupied, 0)
    )
    return Markup(f'<td data-measure="{escape(code)}">{rag_html(row.rag(code), shown)}</td>')


def error_summary(form: Any) -> list[dict[str, str]]:
    """A form's errors as the error summary lists them: each message, linked to its field
    (a form-wide error links nowhere)."""
    return [
        {"text": str(e), "anchor": f"id_{field}" if field != "__all__" else ""}
        for field, errs in form.errors.items()
        for e in errs
    ]
