"""The daily system call's brief as a one-page A4 PDF, for the call's chair to print or send.

It shows the same `Brief` as the page (`brief.brief`), so it never shows more than its reader
may see. It is one page whatever the data: each section's rows are measured, and when they do
not all fit, the sections with the most rows give up rows first, and each says how many more
there are on the brief page. A figure the reader is not shown is written as not shown, with
why where the brief says, never as 0.

Only the PDF standard fonts (Helvetica) are used: nothing is fetched or embedded, so it works
offline. The output depends only on the brief: the document's date is the brief's moment and
reportlab's invariant mode keeps its identifier fixed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, KeepInFrame, Paragraph, Spacer, Table, TableStyle

from flotilla.coordination.brief import Brief
from flotilla.coordination.models import LogItem
from flotilla.coordination.queries import Progress
from flotilla.exchange.models import AidRequest
from flotilla.formatting import day, plural, when
from flotilla.picture.queries import DASHBOARD

AUTHOR = "Flotilla"
#: Where the reader finds the rows a section had no room for.
MORE = "and {count} more: see the brief page"
#: Written where a figure is not shown (never 0).
NOT_SHOWN = "not shown"
DASH = "\u2014"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 14 * mm
WIDTH = PAGE_WIDTH - 2 * MARGIN
HEIGHT = PAGE_HEIGHT - 2 * MARGIN
#: No table can show more rows than this on a page: rows beyond it are not even measured.
MOST_ROWS = int(HEIGHT // 9)
#: Longest text a cell shows, so that one long title cannot take the page.
LONGEST = 180

SECTIONS = (
    "The picture",
    "Who is in trouble",
    "Open aid requests",
    "Overdue actions",
    "Decisions due",
    "Objectives off track",
)

_TITLE = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=14, leading=17)
_SUBTITLE = ParagraphStyle(
    "subtitle", fontName="Helvetica", fontSize=8.5, leading=11, textColor=colors.HexColor("#4c6272")
)
_HEADING = ParagraphStyle(
    "heading",
    fontName="Helvetica-Bold",
    fontSize=10.5,
    leading=13,
    spaceBefore=7,
    spaceAfter=2,
    textColor=colors.HexColor("#005eb8"),
)
_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=8.5, leading=10.5)
_CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=9.5)
_HEAD_CELL = ParagraphStyle("head_cell", parent=_CELL, fontName="Helvetica-Bold")
_MORE = ParagraphStyle("more", parent=_BODY, fontName="Helvetica-Oblique", spaceBefore=1)
_FOOT = ParagraphStyle("foot", parent=_SUBTITLE, fontSize=7.5, leading=9, spaceBefore=6)

_TABLE_STYLE = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#aeb7bd")),
    ]
)
_HEADER_STYLE = TableStyle(
    [*_TABLE_STYLE.getCommands(), ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#e8edee"))]
)

#: Characters Helvetica's encoding lacks, written with ones it has (anything else becomes
#: "?"), so that the text never falls back to another font or a missing glyph.
_PLAIN = str.maketrans({"≥": ">=", "≤": "<=", "→": "->", "←": "<-", "−": "-", "\u00a0": " "})


def _plain(text: object, longest: int = LONGEST) -> str:
    """Text as the page may show it: one line of it, in Helvetica's characters, cut short
    with an ellipsis when longer than `longest`, escaped for a Paragraph's markup."""
    words = " ".join(str(text).translate(_PLAIN).split())
    words = words.encode("cp1252", "replace").decode("cp1252")
    if len(words) > longest:
        words = words[: longest - 1].rstrip() + "…"
    return escape(words)


def _para(text: object, style: ParagraphStyle = _BODY, longest: int = LONGEST) -> Paragraph:
    return Paragraph(_plain(text, longest), style)


# ------------------------------------------------------------------ what each section says


def title(brief: Brief) -> str:
    """The brief's title, as the PDF's information gives it."""
    return f"{brief.collaborative.name}: daily system call brief, {_long_day(brief.day)}"


def _long_day(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _level(level: int | None) -> str:
    return f"OPEL {level}" if level is not None else "not known"


def _picture_lines(brief: Brief) -> list[str]:
    lines = [f"{brief.coverage}."]
    if brief.trouble:
        lines.append("In trouble: " + "; ".join(p.text for p in brief.trouble) + ".")
    else:
        lines.append(
            f"No member is at OPEL {DASHBOARD.opel_top}, over the red line or overdue with its "
            "report, in what you may see."
        )
    if brief.system_level is not None:
        lines.append(f"System level: OPEL {brief.system_level}.")
    else:
        lines.append(
            f"System level: {NOT_SHOWN} (no member's level could be counted for the system)."
        )
    if brief.level_counts:
        counts = "; ".join(
            f"OPEL {level}: {plural(n, 'member')}" for level, n in brief.level_counts.items()
        )
        lines.append(f"Members at each level, of those whose level you may see: {counts}.")
    else:
        lines.append(f"Members at each level: {NOT_SHOWN} (no member's level is shown to you).")
    return lines


def _member_rows(brief: Brief) -> list[tuple[str, ...]]:
    return [
        (
            f"{m.name} ({m.code})",
            _level(m.declared),
            _level(m.level),
            m.occupancy,
            ", ".join(m.reasons),
        )
        for m in brief.in_trouble
    ]


def _aid_rows(brief: Brief, requests: Sequence[AidRequest]) -> list[tuple[str, ...]]:
    return [
        (
            f"{r.organisation.name}, {r.site.name}",
            r.summary,
            r.get_urgency_display(),
            when(r.needed_by, now=brief.at),
        )
        for r in requests
    ]


def _owner(item: LogItem) -> str:
    if item.owner is None:
        return "no owner"
    return item.owner.get_full_name() or item.owner.get_username()


def _due(item: LogItem, today: date, now: datetime) -> str:
    if item.due_on is None:
        return "no date"
    late = (today - item.due_on).days
    if late > 0:
        return f"{day(item.due_on, now=now)} ({plural(late, 'day')} late)"
    if late == 0:
        return "today"
    if late == -1:
        return "tomorrow"
    return day(item.due_on, now=now)


def _item_rows(brief: Brief, items: Sequence[LogItem]) -> list[tuple[str, ...]]:
    return [
        (item.reference, item.title, _owner(item), _due(item, brief.day, brief.at))
        for item in items
    ]


def _objective_rows(brief: Brief) -> list[tuple[str, ...]]:
    def row(p: Progress, status: str) -> tuple[str, ...]:
        return (p.objective.statement, p.text, status)

    return [row(p, "Off track") for p in brief.off_track] + [
        row(p, "Cannot be judged") for p in brief.unsettled
    ]


# ------------------------------------------------------------------ laying out one page


@dataclass
class _Section:
    heading: str
    #: Lines always shown under the heading.
    lines: list[str] = field(default_factory=list)
    #: A table's column headings and widths (fractions of the page's width).
    columns: tuple[str, ...] = ()
    widths: tuple[float, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    #: Said when there are no rows.
    empty: str = ""
    #: How many rows are shown: set by `_fit`.
    shown: int = 0

    def table(self, rows: Sequence[tuple[str, ...]], header: bool = False) -> Table:
        style = _HEAD_CELL if header else _CELL
        cells = [[_para(text, style) for text in row] for row in rows]
        table = Table(cells, colWidths=[w * WIDTH for w in self.widths], hAlign="LEFT")
        table.setStyle(_HEADER_STYLE if header else _TABLE_STYLE)
        return table

    def fixed(self) -> list[Flowable]:
        """What the section shows however many rows fit: its heading and lines."""
        out: list[Flowable] = [_para(self.heading, _HEADING)]
        out += [_para(line) for line in self.lines]
        if not self.rows and self.empty:
            out.append(_para(self.empty))
        return out

    def flowables(self) -> list[Flowable]:
        out = self.fixed()
        if self.shown:
            out.append(self.table([self.columns], header=True))
            out.append(self.table(self.rows[: self.shown]))
        if self.shown < len(self.rows):
            out.append(_para(MORE.format(count=len(self.rows) - self.shown), _MORE))
        return out

    # The height of each part is measured once, so that fitting is sums.

    @cached_property
    def fixed_height(self) -> float:
        return _height(self.fixed())

    @cached_property
    def row_heights(self) -> list[float]:
        return [_height([self.table([row])]) for row in self.rows[:MOST_ROWS]]

    @cached_property
    def header_height(self) -> float:
        return _height([self.table([self.columns], header=True)]) if self.rows else 0.0

    @cached_property
    def more_height(self) -> float:
        return _height([_para(MORE.format(count=len(self.rows)), _MORE)])

    def height(self) -> float:
        """The section's height with `shown` rows (worked out from the measured parts)."""
        out = self.fixed_height
        if self.shown:
            out += self.header_height + sum(self.row_heights[: self.shown])
        if self.shown < len(self.rows):
            out += self.more_height
        return out


def _height(flowables: Sequence[Flowable]) -> float:
    total = 0.0
    for f in flowables:
        _, h = f.wrap(WIDTH, HEIGHT)
        total += h + f.getSpaceBefore() + f.getSpaceAfter()
    return total


def _sections(brief: Brief) -> list[_Section]:
    occupancy = DASHBOARD.indicators.get(f"{DASHBOARD.pressure_bed}_occupancy", "Occupancy")
    item_widths = (0.07, 0.52, 0.19, 0.22)
    return [
        _Section(SECTIONS[0], lines=_picture_lines(brief)),
        _Section(
            SECTIONS[1],
            columns=("Member", "Declared", "Computed", occupancy, "Why"),
            widths=(0.33, 0.11, 0.11, 0.17, 0.28),
            rows=_member_rows(brief),
            empty="No member is in trouble in what you may see.",
        ),
        _Section(
            SECTIONS[2],
            columns=("From", "What", "Urgency", "Needed by"),
            widths=(0.36, 0.34, 0.14, 0.16),
            rows=_aid_rows(brief, brief.aid_requests),
            empty="No open request for aid that you may see.",
        ),
        _Section(
            SECTIONS[3],
            columns=("Ref", "Action", "Owner", "Due"),
            widths=item_widths,
            rows=_item_rows(brief, brief.overdue_actions),
            empty="No action is overdue.",
        ),
        _Section(
            SECTIONS[4],
            columns=("Ref", "Decision", "Owner", "Due"),
            widths=item_widths,
            rows=_item_rows(brief, brief.decisions_due),
            empty="No decision is due by tomorrow.",
        ),
        _Section(
            SECTIONS[5],
            columns=("Objective", "Progress, as you may see it", "Status"),
            widths=(0.44, 0.42, 0.14),
            rows=_objective_rows(brief),
            empty="No objective is off track or in doubt.",
        ),
    ]


def _fit(sections: list[_Section], room: float) -> None:
    """Show as many rows as the room allows, the first of each section: while the page
    would overflow, the section showing the most rows gives one up (the later section when
    two show as many); then any room left goes to those showing the fewest."""
    for s in sections:
        s.shown = min(len(s.rows), MOST_ROWS)
    heights = [s.height() for s in sections]
    while sum(heights) > room:
        candidates = [i for i, s in enumerate(sections) if s.shown]
        if not candidates:
            return  # nothing more to give up: the frame shrinks what is left
        i = max(candidates, key=lambda i: (sections[i].shown, i))
        sections[i].shown -= 1
        heights[i] = sections[i].height()
    # A tall row given up may have left room for shorter ones: the sections showing the
    # fewest rows take them back while they fit.
    grown = True
    while grown:
        grown = False
        for i in sorted(range(len(sections)), key=lambda i: (sections[i].shown, i)):
            s = sections[i]
            if s.shown >= min(len(s.rows), MOST_ROWS):
                continue
            s.shown += 1
            taller = s.height()
            if sum(heights) - heights[i] + taller <= room:
                heights[i] = taller
                grown = True
                break
            s.shown -= 1


def _story(brief: Brief) -> list[Flowable]:
    at = timezone.localtime(brief.at)
    head: list[Flowable] = [
        _para(f"{brief.collaborative.name} {DASH} Daily system call brief", _TITLE, longest=90),
        _para(
            f"{_long_day(at.date())}, generated at {at:%H:%M}. Shows only what you may see: "
            "figures others do not share with you are not shown.",
            _SUBTITLE,
        ),
        Spacer(0, 2),
    ]
    foot: list[Flowable] = [
        _para(
            f"Flotilla {DASH} the live picture, aid requests and RAID log are on the brief page.",
            _FOOT,
        )
    ]
    sections = _sections(brief)
    # A point to spare for rounding in the frame's sums.
    _fit(sections, HEIGHT - _height(head) - _height(foot) - 2)
    body: list[Flowable] = [f for s in sections for f in s.flowables()]
    return [*head, *body, *foot]


def render(brief: Brief) -> bytes:
    """The brief as a one-page A4 PDF."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(title(brief))
    canvas.setAuthor(AUTHOR)
    canvas.setCreator(AUTHOR)
    canvas.setSubject("Daily system call brief")
    at = timezone.localtime(brief.at)
    offset = at.strftime("%z") or "+0000"
    stamp = f"D:{at:%Y%m%d%H%M%S}{offset[:3]}'{offset[3:]}'"
    canvas.setDateFormatter(lambda *_: stamp)
    frame = Frame(
        MARGIN, MARGIN, WIDTH, HEIGHT, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0
    )
    # The sections were fitted to the page; shrinking is the last resort that keeps it one
    # page even if the sums were out.
    frame.addFromList([KeepInFrame(WIDTH, HEIGHT, _story(brief), mode="shrink")], canvas)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
