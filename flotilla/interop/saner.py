"""FHIR SANER: the picture's bed counts as FHIR R4B MeasureReports, and MeasureReports read
back into reporting.

Export: `bundle_for` reads what a viewer may see through `flotilla.sharing.policy.read_latest`
(values already delayed and coarsened, the reads on the owners' access record) and builds one
MeasureReport per organisation or site and per time its figures were true, in the shape the
SANER implementation guide gives a report: `measure` naming Flotilla's bed measure, `subject`
the organisation (ODS code) or site, `period` the figures' as-of time, one group per bed type
of the catalogue and one population per bed state. A figure the viewer may not see exactly is
never given as a count: the population carries the data-absent-reason extension instead
(`masked` for a figure withheld, delayed, shared as status only or banded, a banded one with
the range of counts it was rounded from), and a figure reported missing carries the reason
it was missing. Never a zero for a figure that is not there.

Import: `import_document` turns a Bundle of MeasureReports (or one) for the importer's own
organisation and sites into the cells a report is made of, and stores them with
`flotilla.reporting.actions.record_report`: the same validation, audit and revisions as every
other report. Every resource is built and checked with fhir.resources' R4B models (ADR 0033).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport
from pydantic import ValidationError

from flotilla import catalogue as catalogue_module
from flotilla.organisations.models import Organisation, Site
from flotilla.reporting.actions import ReportResult, record_report
from flotilla.reporting.models import MissingReason, Source
from flotilla.reporting.validation import CellIn, Problem, ReportRejected, check_cells
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED, EXACT, STEP

#: The measure every report names: Flotilla's beds by type and state (a URN, the same on
#: every deployment, so that a document exported from one is read by another).
MEASURE = "urn:flotilla:measure:beds"
#: Group codes: the catalogue's bed types (`ga`, `cc_adult`, ...).
BED_TYPES = "urn:flotilla:code-system:bed-type"
#: Population codes: the catalogue's bed states (`open`, `occupied`, ...).
BED_STATES = "urn:flotilla:code-system:bed-state"
#: NHS England's identifier systems for organisations and sites.
ODS_ORGANISATION = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
#: HL7's extension saying why a value is absent (its codes are data-absent-reason's).
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#: Ours: the whole numbers a banded count was rounded from (low and high), beside `masked`.
COUNT_RANGE = "urn:flotilla:extension:count-range"
#: Ours: how many hours late a figure not yet visible is shared, beside `masked`.
HOURS_LATE = "urn:flotilla:extension:shared-hours-late"

#: A figure the reader may not see as it was reported (withheld, delayed, status, banded).
MASKED = "masked"
#: Why a reported figure is missing ↔ the data-absent reason saying so (one to one, so that
#: an export imports back as it was). `masked` is kept for what sharing hides.
_ABSENT = {
    "not_reported": "not-asked",
    "not_applicable": "not-applicable",
    "unknown": "unknown",
    "invalid": "error",
    # Held back by the publisher or the source system (small numbers suppressed).
    "withheld_at_source": "asked-declined",
}
# A reason added to MissingReason without a code here fails at import, not in an export.
ABSENT_CODE = {reason: _ABSENT[reason] for reason in MissingReason.values}
MISSING_REASON = {code: reason for reason, code in ABSENT_CODE.items()}


@dataclass(frozen=True)
class BedMeasure:
    code: str
    bed_type: str
    state: str


def bed_measures() -> list[BedMeasure]:
    """The catalogue's bed type × state measures, in its order."""
    return [
        BedMeasure(m.code, m.bed_type, m.state)
        for m in catalogue_module.current().measures
        if m.bed_type and m.state
    ]


def _states() -> dict[str, str]:
    """Bed state → its label, in the catalogue's order (the catalogue names each bed measure
    "{bed type's label}: beds {state's label}", and keeps no list of states of its own)."""
    labels: dict[str, str] = {}
    for m in catalogue_module.current().measures:
        if m.bed_type and m.state and m.state not in labels:
            labels[m.state] = m.label.rsplit("beds ", 1)[-1]
    return labels


def _count_range(shown: float) -> tuple[int, int]:
    """The whole numbers that round (to the nearest 5, halves up) to `shown`: 205 → 203–207."""
    low = max(0, int(shown - STEP / 2 + 0.5))
    high = int(shown + STEP / 2 - 0.5)
    return low, high


def _population(state: str, label: str, shown: policy.Shared | None, late: int = 0) -> dict:
    """One population: a count only for an exact figure; otherwise why it is absent."""
    code = {"coding": [{"system": BED_STATES, "code": state, "display": label}]}
    if shown is None:  # withheld, or not yet visible
        ext: list[dict[str, Any]] = [{"url": DATA_ABSENT, "valueCode": MASKED}]
        if late:
            ext.append({"url": HOURS_LATE, "valueInteger": late})
        return {"code": code, "extension": ext}
    if shown.missing_reason:
        reason = ABSENT_CODE[shown.missing_reason]
        return {"code": code, "extension": [{"url": DATA_ABSENT, "valueCode": reason}]}
    if shown.detail == EXACT and shown.value is not None:
        return {"code": code, "count": int(shown.value)}
    ext = [{"url": DATA_ABSENT, "valueCode": MASKED}]
    if shown.detail == BANDED and shown.value is not None:
        low, high = _count_range(shown.value)
        ext.append(
            {"url": COUNT_RANGE, "valueRange": {"low": {"value": low}, "high": {"value": high}}}
        )
    return {"code": code, "extension": ext}


def _reference(organisation: Organisation, site: Site | None) -> dict:
    if site is not None:
        return {
            "type": "Location",
            "identifier": {"system": ODS_SITE, "value": site.code},
            "display": site.name,
        }
    return {
        "type": "Organization",
        "identifier": {"system": ODS_ORGANISATION, "value": organisation.code},
        "display": organisation.name,
    }


def _second(moment: datetime) -> str:
    """A time precise to the second with its offset, as SANER asks of a report's times."""
    return moment.astimezone(timezone.get_current_timezone()).replace(microsecond=0).isoformat()


def _report(
    organisation: Organisation,
    site: Site | None,
    as_of: datetime,
    populations: dict[str, dict[str, dict]],
    made: datetime,
) -> MeasureReport:
    """One MeasureReport: groups of populations, by bed type then state, in catalogue order."""
    types = catalogue_module.current().bed_types
    states = list(_states())
    groups = [
        {
            "code": {
                "coding": [{"system": BED_TYPES, "code": bed, "display": types[bed].label}],
            },
            "population": [by_state[s] for s in states if s in by_state],
        }
        for bed, by_state in sorted(populations.items(), key=lambda p: list(types).index(p[0]))
    ]
    return MeasureReport.model_validate(
        {
            "resourceType": "MeasureReport",
            "status": "complete",
            "type": "summary",
            "measure": MEASURE,
            "subject": _reference(organisation, site),
            "date": _second(made),
            "reporter": _reference(organisation, None),
            "period": {"start": _second(as_of), "end": _second(as_of)},
            "group": groups,
        }
    )


def bundle_for(
    viewer: policy.Viewer, organisations: Sequence[Organisation], at: datetime | None = None
) -> Bundle:
    """The organisations' bed counts as `viewer` may see them, now or as at `at`: a Bundle
    (type collection) of MeasureReports, one per organisation or site and per as-of time,
    and one more per organisation or site at the moment read for the figures withheld from
    the viewer or not yet visible to them (each population `masked`). Read through
    `policy.read_latest`, so the reads go on the owners' access record."""
    now = timezone.now()
    moment = min(at, now) if at else now
    beds = bed_measures()
    of_code = {b.code: b for b in beds}
    labels = _states()
    by_id = {o.pk: o for o in organisations}
    reading = policy.read_latest(viewer, at, set(by_id), [b.code for b in beds])
    site_ids = {v.site_id for v in reading.values} | {s for _, s, _ in reading.delayed}
    sites = Site.objects.in_bulk({s for s in site_ids if s is not None})
    #: (owner, site, as of) → bed type → state → population
    reports: dict[tuple[int, int | None, datetime], dict[str, dict[str, dict]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for v in reading.values:
        b = of_code[v.measure]
        population = _population(b.state, labels[b.state], v)
        reports[(v.organisation_id, v.site_id, v.as_of)][b.bed_type][b.state] = population
    for owner, code in reading.withheld:
        b = of_code[code]
        reports[(owner, None, moment)][b.bed_type][b.state] = _population(
            b.state, labels[b.state], None
        )
    for (owner, site_id, code), hours in reading.delayed.items():
        b = of_code[code]
        reports[(owner, site_id, moment)][b.bed_type][b.state] = _population(
            b.state, labels[b.state], None, hours
        )
    order = {o.pk: n for n, o in enumerate(organisations)}
    entries = []
    for owner, site_id, as_of in sorted(
        reports,
        key=lambda k: (order[k[0]], k[1] is not None, sites[k[1]].code if k[1] else "", k[2]),
    ):
        site = sites[site_id] if site_id is not None else None
        report = _report(by_id[owner], site, as_of, reports[(owner, site_id, as_of)], now)
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": report})
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _second(now),
            "entry": entries,
        }
    )


# --- import -----------------------------------------------------------------------------------


def _where(entry: int | None, *path: str | int) -> str:
    """Where a problem is, as a FHIRPath from the document's root: `Bundle.entry[2].resource
    .group[0].population[1].count`, or `MeasureReport.period.end` for a lone report."""
    out = f"Bundle.entry[{entry}].resource" if entry is not None else "MeasureReport"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _fhir_problems(error: ValidationError, entry: int | None) -> list[Problem]:
    problems = []
    for e in error.errors():
        field = _where(entry, *e["loc"])
        problems.append(Problem(e["msg"].removeprefix("Value error, "), field, entry))
    return problems


def reports_in(document: Any) -> list[tuple[int | None, dict]]:
    """(entry index or None for a lone report, the MeasureReport) of a Bundle or a
    MeasureReport, each checked as FHIR R4B; ReportRejected names every problem."""
    if not isinstance(document, dict):
        raise ReportRejected([Problem("give a FHIR Bundle or MeasureReport as a JSON object")])
    kind = document.get("resourceType")
    if kind == "MeasureReport":
        pairs: list[tuple[int | None, Any]] = [(None, document)]
    elif kind == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            raise ReportRejected([Problem("give a list of entries", "Bundle.entry")])
        pairs = [
            (i, e.get("resource") if isinstance(e, dict) else None) for i, e in enumerate(entries)
        ]
        if not pairs:
            raise ReportRejected([Problem("the Bundle has no entries", "Bundle.entry")])
    else:
        raise ReportRejected([Problem("give a FHIR Bundle or MeasureReport", "resourceType")])
    problems: list[Problem] = []
    out = []
    for i, resource in pairs:
        if not isinstance(resource, dict) or resource.get("resourceType") != "MeasureReport":
            problems.append(Problem("only MeasureReports are read", _where(i, "resourceType"), i))
            continue
        try:
            MeasureReport.model_validate(resource)
        except ValidationError as exc:
            problems.extend(_fhir_problems(exc, i))
            continue
        out.append((i, resource))
    if problems:
        raise ReportRejected(problems)
    return out


def _when(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _codes(concept: Any, system: str) -> list[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [
        c.get("code") for c in codings or [] if isinstance(c, dict) and c.get("system") == system
    ]


def _subject(
    report: dict, i: int | None, organisation: Organisation, sites: dict[str, int]
) -> tuple[int | None, list[Problem]]:
    """The site (None: the organisation) a report is about, or why it cannot be read."""
    subject = report.get("subject") or {}
    identifier = subject.get("identifier") or {}
    system, value = identifier.get("system"), str(identifier.get("value") or "")
    where = _where(i, "subject", "identifier", "value")
    named = {ODS_ORGANISATION: "Organization", ODS_SITE: "Location"}.get(system or "")
    if subject.get("type") not in (None, named):
        return None, [
            Problem(
                f"the subject is {'an' if named == 'Organization' else 'a'} "
                f"{named} by its identifier",
                _where(i, "subject", "type"),
                i,
            )
        ]
    if system == ODS_ORGANISATION:
        if value.strip().upper() != organisation.code:
            return None, [
                Problem(
                    f"{value!r} is not {organisation.code}: a report is for "
                    "the reporting organisation or its sites",
                    where,
                    i,
                )
            ]
        return None, []
    if system == ODS_SITE:
        site_id = sites.get(value.strip().upper())
        if site_id is None:
            return None, [Problem(f"{value!r} is not a site of {organisation.code}", where, i)]
        return site_id, []
    return None, [
        Problem(f"give the subject's ODS code ({ODS_ORGANISATION} or {ODS_SITE})",
                _where(i, "subject", "identifier", "system"), i)
    ]  # fmt: skip


def _cells_of(
    report: dict, i: int | None, organisation: Organisation, sites: dict[str, int]
) -> tuple[list[CellIn], list[Problem]]:
    problems: list[Problem] = []
    if report.get("status") != "complete":
        problems.append(Problem("only a complete report is read", _where(i, "status"), i))
    if report.get("type") != "summary":
        problems.append(Problem("only a summary report is read", _where(i, "type"), i))
    measure = str(report.get("measure") or "")
    version = catalogue_module.current().version
    if measure not in (MEASURE, f"{MEASURE}|{version}"):
        problems.append(Problem(f"give the measure {MEASURE}", _where(i, "measure"), i))
    site_id, wrong = _subject(report, i, organisation, sites)
    problems.extend(wrong)
    period = report.get("period") or {}
    end = _when(str(period.get("end") or ""))
    if end is None:
        problems.append(
            Problem("give the time the figures were true, with seconds and its UTC offset",
                    _where(i, "period", "end"), i)
        )  # fmt: skip
    start = _when(str(period.get("start") or "")) if period.get("start") else None
    if start is not None and end is not None and start > end:
        problems.append(
            Problem("period.start must not be after period.end", _where(i, "period", "start"), i)
        )
    if problems or end is None:
        return [], problems
    beds = {(b.bed_type, b.state): b.code for b in bed_measures()}
    bed_types = {b for b, _ in beds}
    states = {s for _, s in beds}
    cells = []
    for g, group in enumerate(report.get("group") or []):
        [bed, *more] = _codes(group.get("code"), BED_TYPES) or [""]
        if bed not in bed_types or more:
            problems.append(
                Problem(f"give one bed type of {BED_TYPES} ({', '.join(sorted(bed_types))})",
                        _where(i, "group", g, "code"), i)
            )  # fmt: skip
            continue
        for p, population in enumerate(group.get("population") or []):
            [state, *more] = _codes(population.get("code"), BED_STATES) or [""]
            if state not in states or more:
                problems.append(
                    Problem(f"give one bed state of {BED_STATES} ({', '.join(sorted(states))})",
                            _where(i, "group", g, "population", p, "code"), i)
                )  # fmt: skip
                continue
            absent = [
                e.get("valueCode")
                for e in population.get("extension") or []
                if e.get("url") == DATA_ABSENT
            ]
            count = population.get("count")
            at = _where(i, "group", g, "population", p)
            common = {
                "organisation_id": organisation.pk,
                "site_id": site_id,
                "measure": beds[(bed, state)],
                "as_of": end,
                "row": i,
                "time_field": _where(i, "period", "end"),
            }
            if count is not None and not absent:
                cells.append(CellIn(value=float(count), field=f"{at}.count", **common))
            elif count is None and len(absent) == 1 and absent[0] in MISSING_REASON:
                reason = MISSING_REASON[absent[0]]
                cells.append(CellIn(missing_reason=reason, field=f"{at}.extension", **common))
            elif count is not None:
                problems.append(
                    Problem("give a count or the reason it is missing, not both", f"{at}.count", i)
                )
            else:
                problems.append(
                    Problem("give a count, or one data-absent-reason of "
                            f"{', '.join(MISSING_REASON)} (a figure you cannot see is not "
                            "yours to report)", f"{at}.extension" if absent else f"{at}.count",
                            i)
                )  # fmt: skip
    return cells, problems


def cells_of(document: Any, organisation: Organisation) -> list[CellIn]:
    """The cells of a Bundle of MeasureReports (or one) for `organisation` and its sites.

    Each population becomes one cell of the measure `{bed type}_{state}`, true at the
    report's `period.end`: a count becomes its value, a data-absent reason the reason it is
    missing (`masked` and any other code are refused). ReportRejected lists every problem,
    named by its path in the document; the catalogue's checks follow in `record_report`."""
    problems: list[Problem] = []
    cells: list[CellIn] = []
    sites = dict(Site.objects.filter(organisation=organisation).values_list("code", "id"))
    for i, report in reports_in(document):
        found, wrong = _cells_of(report, i, organisation, sites)
        cells.extend(found)
        problems.extend(wrong)
    if problems:
        # With the catalogue's checks of the rest, so that one answer names everything.
        errors = [
            p for p in check_cells(cells, catalogue_module.current()) if p.severity == "error"
        ]
        raise ReportRejected(sorted([*problems, *errors], key=lambda p: p.row or 0))
    return cells


def import_document(
    *, by: Any, organisation: Organisation, document: Any, reference: str = "FHIR SANER"
) -> ReportResult:
    """Store a SANER document's figures as a report of `organisation` (through
    `record_report`: validated against the catalogue, audited, revisions kept); nothing is
    stored if anything is wrong."""
    return record_report(
        by=by,
        organisation_id=organisation.pk,
        source=Source.API,
        cells=cells_of(document, organisation),
        reference=reference,
    )


def as_json(resource: Bundle | MeasureReport) -> str:
    """The resource as FHIR JSON."""
    return resource.model_dump_json(exclude_none=True)
