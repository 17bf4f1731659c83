"""The brief as a PDF: one A4 page whatever the data, every section there, the rows that do
not fit counted, and a figure the reader is not shown never printed as 0."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image

from flotilla.authz.models import Membership, Role
from flotilla.collaboratives.models import Collaborative
from flotilla.coordination import pdf
from flotilla.coordination.brief import Brief, MemberLine, brief
from flotilla.coordination.models import LogItem, Objective
from flotilla.coordination.queries import Progress
from flotilla.demo import loader
from flotilla.exchange.models import AidRequest
from flotilla.organisations.models import Organisation, Site
from flotilla.picture.queries import Picture, TroublePart
from flotilla.sharing import policy
from tests import factories as f

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
        reason="poppler-utils (pdftoppm, pdftotext) is not installed",
    ),
]


def pages(document: bytes, tmp_path: Path) -> list[Path]:
    """The PNG of each page, drawn by poppler at 50 dpi."""
    source = tmp_path / "brief.pdf"
    source.write_bytes(document)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", str(source), str(tmp_path / "page")], check=True
    )
    return sorted(tmp_path.glob("page*.png"))


def text(document: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(document)
    done = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    )
    return done.stdout


def smallest_text(document: bytes, tmp_path: Path) -> float:
    """The height of the smallest word printed, in points: about 0.93 of its font size.
    The page shrinks its content to fit only as a last resort; the brief is fitted without."""
    source = tmp_path / "words.pdf"
    source.write_bytes(document)
    done = subprocess.run(
        ["pdftotext", "-bbox", str(source), "-"], check=True, capture_output=True, text=True
    )
    boxes = re.findall(r'<word [^>]*yMin="([\d.]+)"[^>]*yMax="([\d.]+)"', done.stdout)
    assert boxes, "no words printed"
    return min(float(high) - float(low) for low, high in boxes)


def flat(words: str) -> str:
    """Text with every run of white space one space: a table cell may wrap."""
    return " ".join(words.split())


def says(text: str, phrase: str) -> bool:
    """Whether the text has the phrase's words in order, though a table cell may have
    wrapped it (with -layout, the other cells of its row come between its lines)."""
    words = [re.escape(w) for w in phrase.split()]
    return re.search(r"\s.*?".join(words), text, re.DOTALL) is not None


def section(page: str, heading: str) -> str:
    """The text from a section's heading to the next heading (or the end)."""
    start = page.index(heading)
    ends = [page.find(h, start + 1) for h in pdf.SECTIONS if page.find(h, start + 1) > start]
    return page[start : min(ends, default=len(page))]


def assert_one_a4_page_with_ink(document: bytes, tmp_path: Path) -> None:
    assert document.startswith(b"%PDF-")
    drawn = pages(document, tmp_path)
    assert len(drawn) == 1, f"{len(drawn)} pages"
    image = Image.open(io.BytesIO(drawn[0].read_bytes())).convert("L")
    # A4 at 50 dpi: 8.27 × 11.69 inches.
    assert image.size == pytest.approx((413, 585), abs=2)
    low, high = image.getextrema()
    assert high == 255 and low < 100, "a blank page"
    dark = sum(image.histogram()[:128])
    assert dark > 500, "hardly anything printed"


# ------------------------------------------------------------------ the demo


@pytest.fixture
def demo_brief(shared_data) -> Brief:
    """The real demo, and its brief as the demo's coordinator sees it."""
    result = loader.load(data_dir=shared_data)
    collab = Collaborative.objects.get(slug=result["collaborative"])
    coordinator = Membership.objects.get(user__username="demo-coordinator").user
    return brief(policy.viewer_of(coordinator), collab)


def test_the_demo_collaboratives_brief_is_a_one_page_pdf_with_every_section(demo_brief, tmp_path):
    document = pdf.render(demo_brief)
    assert_one_a4_page_with_ink(document, tmp_path)
    page = text(document, tmp_path)
    for heading in ("Daily system call brief", *pdf.SECTIONS):
        assert heading in page
    assert demo_brief.collaborative.name in flat(page)
    assert f"{timezone.localtime(demo_brief.at):%H:%M}" in page
    # The coverage sentence and the system's level, as the brief has them.
    picture = flat(section(page, "The picture"))
    seen = demo_brief.picture
    assert f"{seen.reported_recently} of {len(seen.expected)} members reported" in picture
    assert demo_brief.coverage in picture
    level = demo_brief.system_level
    assert (f"System level: OPEL {level}." if level else "System level: not shown") in picture
    # The demo's trusts are under pressure: someone is in trouble, and listed by name.
    assert demo_brief.in_trouble
    first = demo_brief.in_trouble[0]
    assert says(section(page, "Who is in trouble"), f"{first.name} ({first.code})")
    assert demo_brief.aid_requests
    asking = demo_brief.aid_requests[0].organisation.name
    assert says(section(page, "Open aid requests"), asking)


# ------------------------------------------------------------------ a crowded brief

MANY = 150


def crowded_brief() -> Brief:
    """A brief with MANY rows in every section, some long enough to wrap, built from the
    dataclasses and unsaved models (nothing of it needs to be stored to be printed)."""
    now = timezone.now()
    today = timezone.localdate(now)
    collab = Collaborative(name="Crowded Estuary System", reporting_interval_hours=24)
    members = [Organisation(name=f"Trust {i:03d}", code=f"T{i:03d}") for i in range(MANY)]
    picture = Picture(
        collaborative=collab,
        at=now,
        is_live=True,
        rows=[],
        members=members,
        totals={},
        reported_recently=MANY - 20,
        thresholds={},
        expected=members,
    )
    long = " and chase every package of care for the long-stay patients on the wards" * 3
    owner = get_user_model()(username="chair", first_name="Ada", last_name="Lovelace")
    return Brief(
        collaborative=collab,
        at=now,
        picture=picture,
        trouble=[
            TroublePart(40, "40 organisations at OPEL 4", {}),
            TroublePart(30, "30 at or over 95% G&A occupancy", {}),
        ],
        in_trouble=[
            MemberLine(
                f"Trust {i:03d}",
                f"T{i:03d}",
                4 if i % 3 else None,
                3 if i % 2 else None,
                "97.5%" if i % 2 else "not shared with you",
                ("declared OPEL 4", "G&A occupancy red", "not reported for 8 h")[: 1 + i % 3],
            )
            for i in range(MANY)
        ],
        system_level=4,
        level_counts={4: 100, 3: 30, 2: 20},
        aid_requests=[
            AidRequest(
                organisation=members[i],
                site=Site(name=f"Site of request {i:03d}", code=f"S{i:03d}"),
                kind="transfer",
                details={"level_of_care": "cc3", "clinical_needs": ["ventilation"]},
                quantity=1 + i % 4,
                urgency="immediate",
                needed_by=now + timedelta(hours=2),
            )
            for i in range(MANY)
        ],
        overdue_actions=[
            LogItem(
                kind="action",
                number=i,
                title=f"Action {i:03d}" + (long if i % 2 else ""),
                owner=owner if i % 2 else None,
                due_on=today - timedelta(days=3),
            )
            for i in range(MANY)
        ],
        decisions_due=[
            LogItem(kind="decision", number=i, title=f"Decision {i:03d}", due_on=today)
            for i in range(MANY)
        ],
        off_track=[
            Progress(
                Objective(statement=f"Objective {i:03d}: keep G&A occupancy at most 92%"),
                0.97,
                "97.0% now",
                False,
                MANY,
                MANY,
            )
            for i in range(3)
        ],
        unsettled=[
            Progress(
                Objective(statement=f"Objective {i:03d}: no member over 95%"),
                None,
                f"Cannot be worked out: exact bed figures are shown to you for 3 of {MANY} members",
                None,
                3,
                MANY,
            )
            for i in range(3, MANY)
        ],
    )


#: Each table section, and the words that begin each of its rows ("Trust 017").
LABELS = {
    "Who is in trouble": r"Trust (\d{3})",
    "Open aid requests": r"Trust (\d{3}), Site",
    "Overdue actions": r"Action (\d{3})",
    "Decisions due": r"Decision (\d{3})",
    "Objectives off track": r"Objective (\d{3})",
}


def test_a_brief_with_many_rows_in_every_section_is_still_one_page_and_counts_the_rest(
    tmp_path,
):
    document = pdf.render(crowded_brief())
    assert_one_a4_page_with_ink(document, tmp_path)
    # Nothing shrunk to fit: the smallest words are the 7.5 pt footer's.
    assert smallest_text(document, tmp_path) > 6.5
    page = text(document, tmp_path)
    for heading, label in LABELS.items():
        part = flat(section(page, heading))
        shown = set(re.findall(label, part))
        more = re.findall(r"and (\d+) more: see the brief page", part)
        assert len(more) == 1, heading
        assert shown, f"{heading} shows no rows at all"
        # Those shown are the first ones, and with those left over they are all of them.
        assert shown == {f"{i:03d}" for i in range(len(shown))}, heading
        assert len(shown) + int(more[0]) == MANY, heading
    objectives = section(page, "Objectives off track")
    assert "Off track" in objectives and "Cannot be judged" in objectives
    assert says(
        section(page, "Who is in trouble"), "Trust 000 (T000) not known not known not shared"
    )
    assert "OPEL 4: 100 members; OPEL 3: 30 members" in flat(page)


def test_the_pdf_is_titled_for_its_brief_written_by_flotilla_and_the_same_each_time(
    tmp_path,
):
    crowded = crowded_brief()
    document = pdf.render(crowded)
    assert pdf.render(crowded) == document
    # The document's information dictionary is written uncompressed.
    info = document.decode("latin-1")
    assert "/Author (Flotilla)" in info
    assert f"/Title ({pdf.title(crowded)})" in info
    assert pdf.title(crowded).startswith("Crowded Estuary System: daily system call brief, ")
    stamp = timezone.localtime(crowded.at)
    assert f"/CreationDate (D:{stamp:%Y%m%d%H%M%S}" in info


# ------------------------------------------------------------------ missing figures


def test_a_figure_the_reader_is_not_shown_is_never_printed_as_0(cast, tmp_path):
    coordinator = cast.people[Role.COORDINATOR]
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(cast.collab, east)  # and never reports
    # South shares only its flow figures with the collaborative, and last reported two days
    # ago; North reports its beds as missing.
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("flow",))
    earlier = timezone.now() - timedelta(minutes=10)
    f.report(cast.south, earlier - timedelta(days=2), ga_occupied=470, ga_open=500, nctr=4)
    f.report(cast.north, earlier, ga_occupied=None, ga_open=None)
    f.objective(by=coordinator, collaborative=cast.collab)
    seen = brief(policy.viewer_of(coordinator), cast.collab)
    assert seen.system_level is None and not seen.level_counts
    assert {m.code for m in seen.in_trouble} == {"RE1", "RS1"}
    assert {m.occupancy for m in seen.in_trouble} == {"not reported", "not shared with you"}

    page = text(pdf.render(seen), tmp_path)
    # A 0 standing alone, "0.0", "0%" or "OPEL 0", but not "10" or "0.95".
    zero = re.compile(r"(?<![\d.])0(\.0+)?%?(?![\d.])|OPEL 0")
    trouble = section(page, "Who is in trouble")
    rows = {
        code: "\n".join(line for line in trouble.splitlines() if f"({code})" in line)
        for code in ("RE1", "RS1")
    }
    for code, row in rows.items():
        assert "not known" in row, row  # the level
        assert not zero.search(row.replace(f"({code})", "")), row
    assert says(trouble, "East Hospitals NHS Trust (RE1) not known not known not reported")
    assert says(trouble, "South Hospitals NHS Trust (RS1) not known not known not shared with you")
    picture = flat(section(page, "The picture"))
    assert "System level: not shown" in picture
    assert "Members at each level: not shown" in picture
    objectives = section(page, "Objectives off track")
    assert "Cannot be judged" in objectives
    assert not zero.search(objectives.replace("0 of", "")), objectives
    assert not re.search(r"OPEL 0|(?<![\d.])0(\.0)?%", page)
