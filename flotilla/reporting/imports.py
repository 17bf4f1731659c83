"""Import a file of reported values: the whole file is stored, or nothing is.

`import_file` is the one entry point, used by `flotilla import-sitreps` and by the web upload.
It parses the file (`flotilla.reporting.importers`), resolves organisation and site codes
(registering unknown sitrep trusts from the file's Name column), maps retired codes to their
successors (summing predecessors that report on the same day, see docs/adr/0003), and stores
everything through `reporting.actions.record_report` in one transaction.

Formats and semantics are documented in docs/import-formats.md.
"""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from flotilla.organisations import actions as organisations_actions
from flotilla.organisations.models import (
    Organisation,
    OrganisationAlias,
    OrganisationKind,
    Site,
    name_key,
)
from flotilla.reporting.actions import record_report
from flotilla.reporting.importers import (
    ON_CONFLICT_CHOICES,
    CombineReport,
    Conflict,
    CsvRows,
    ParsedCell,
    ParsedFile,
    combine_into_successors,
    longform,
    mapped,
    sitrep,
)
from flotilla.reporting.importers.mapped import Mapping, MappingError
from flotilla.reporting.models import Observation, Series, Source
from flotilla.reporting.validation import CellIn, Problem, ReportRejected

FORMATS = ("auto", sitrep.FORMAT, longform.FORMAT, mapped.FORMAT)


@dataclass
class ImportOutcome:
    """What an import did (or, for a dry run or a rejected file, would have done)."""

    name: str
    format: str = ""
    on_conflict: str = "reject"
    dry_run: bool = False
    #: Data rows read, and England total rows skipped.
    rows: int = 0
    england_rows_skipped: int = 0
    #: Duplicate rows of one trust-day: complementary (merged), identical (collapsed).
    duplicate_rows_merged: int = 0
    duplicate_rows_collapsed: int = 0
    #: Values to store after duplicates and mergers were resolved.
    cells: int = 0
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    submission_ids: list[int] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: Conflicting duplicates: resolved (on_conflict='last') or the reason for rejection.
    conflicts: list[Conflict] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    #: Recognised columns deliberately not stored (published rates).
    ignored_columns: list[str] = field(default_factory=list)
    #: (code, name) of organisations registered because the file named them first.
    registered_organisations: list[tuple[str, str]] = field(default_factory=list)
    #: (code, name) of sites registered because the file named them first (mapped files
    #: whose mapping says so, on the command line only).
    registered_sites: list[tuple[str, str]] = field(default_factory=list)
    #: Rows a mapping marks as totals (a national row), skipped.
    rows_skipped: int = 0
    #: The mapping a mapped file was read through.
    mapping: str = ""
    #: Retired code → successor, for codes in the file.
    retired_codes_mapped: dict[str, str] = field(default_factory=dict)
    #: Predecessor trust-days summed into a successor reporting the same day.
    predecessor_rows_combined: int = 0
    #: Predecessor trust-days stored under their successor (no other part that day).
    predecessor_rows_relabelled: int = 0
    #: Superseded values (on_conflict='last') stored first as earlier revisions; each is
    #: then revised by the final value, so it also counts in `revised`.
    earlier_revisions_stored: int = 0

    @property
    def stored(self) -> int:
        return self.created + self.revised

    @property
    def changed_anything(self) -> bool:
        return bool(self.submission_ids or self.registered_organisations or self.registered_sites)

    def summary_lines(self) -> list[str]:
        """What happened, in sentences, for a command's output or a page."""
        verb = "would store" if self.dry_run else "stored"
        lines = [
            f"{self.name}: {self.format} file, {self.rows} rows read; {verb} {self.created} new "
            f"and {self.revised} revised values, {self.unchanged} unchanged.",
        ]
        if self.england_rows_skipped:
            lines.append(f"Skipped {self.england_rows_skipped} England total rows (Code '-').")
        if self.mapping:
            lines.append(f"Read through the mapping {self.mapping}.")
        if self.rows_skipped:
            lines.append(f"Skipped {self.rows_skipped} total rows the mapping names.")
        if self.duplicate_rows_merged or self.duplicate_rows_collapsed:
            lines.append(
                f"Merged {self.duplicate_rows_merged} complementary duplicate rows and collapsed "
                f"{self.duplicate_rows_collapsed} identical ones."
            )
        if self.conflicts:
            kept = [c for c in self.conflicts if c.kept is not None]
            if kept:
                lines.append(
                    f"Resolved {len(kept)} conflicting values in file order (the last kept, the "
                    "one it replaced stored as an earlier revision):"
                )
                lines.extend(f"  {c.describe()}" for c in kept[:20])
                if len(kept) > 20:
                    lines.append(f"  … and {len(kept) - 20} more")
                if self.earlier_revisions_stored:
                    lines.append(
                        f"  ({self.earlier_revisions_stored} superseded values stored as "
                        "earlier revisions; they count among the revised values)"
                    )
        if self.retired_codes_mapped:
            pairs = ", ".join(f"{a}→{b}" for a, b in sorted(self.retired_codes_mapped.items()))
            lines.append(f"Mapped retired codes to their successors: {pairs}.")
        if self.predecessor_rows_combined:
            lines.append(
                f"Combined {self.predecessor_rows_combined} predecessor rows into successors "
                "(counts summed; missing if any part was missing)."
            )
        if self.registered_organisations:
            lines.append(
                "Registered organisations new to Flotilla: "
                + ", ".join(f"{c} ({n})" for c, n in self.registered_organisations)
            )
        if self.registered_sites:
            lines.append(
                "Registered sites new to Flotilla: "
                + ", ".join(f"{c} ({n})" for c, n in self.registered_sites)
            )
        if self.unknown_columns:
            lines.append(f"Ignored unknown columns: {', '.join(self.unknown_columns)}.")
        if self.ignored_columns and self.mapping:
            lines.append(
                "Not stored, as the mapping says (rates derived from counts, or no catalogue "
                f"measure): {', '.join(self.ignored_columns)}."
            )
        elif self.ignored_columns:
            lines.append(
                f"Not stored (published rates, derived from counts instead): "
                f"{', '.join(self.ignored_columns)}."
            )
        if self.warnings:
            lines.append(f"{len(self.warnings)} warnings, for example: {self.warnings[0]}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "on_conflict": self.on_conflict,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "england_rows_skipped": self.england_rows_skipped,
            "duplicate_rows_merged": self.duplicate_rows_merged,
            "duplicate_rows_collapsed": self.duplicate_rows_collapsed,
            "cells": self.cells,
            "created": self.created,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "submission_ids": self.submission_ids,
            "warnings": [
                {"row": w.row, "column": w.field, "message": w.message} for w in self.warnings
            ],
            "conflicts": [c.as_dict() for c in self.conflicts],
            "unknown_columns": self.unknown_columns,
            "ignored_columns": self.ignored_columns,
            "registered_organisations": [list(p) for p in self.registered_organisations],
            "registered_sites": [list(p) for p in self.registered_sites],
            "rows_skipped": self.rows_skipped,
            "mapping": self.mapping,
            "retired_codes_mapped": self.retired_codes_mapped,
            "predecessor_rows_combined": self.predecessor_rows_combined,
            "predecessor_rows_relabelled": self.predecessor_rows_relabelled,
            "earlier_revisions_stored": self.earlier_revisions_stored,
        }


class ImportRejected(ReportRejected):
    """The file has errors and nothing was stored; `outcome` says what was found."""

    def __init__(self, problems: Sequence[Problem], outcome: ImportOutcome):
        super().__init__(sorted(problems, key=lambda p: (p.row or 0, p.field)))
        self.outcome = outcome


def _read_text(path_or_stream: str | Path | IO[Any], mapping: Mapping | None = None) -> str:
    if isinstance(path_or_stream, str | Path):
        data: Any = Path(path_or_stream).read_bytes()
    else:
        data = path_or_stream.read()
    if isinstance(data, bytes) and mapping is not None:
        return mapped.decode(data, mapping)
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    return data.removeprefix("\ufeff")


def detect_format(text: str) -> str:
    """'sitrep' or 'longform' from the header line; '' if neither (or it cannot be read)."""
    header = CsvRows(io.StringIO(text, newline=""), ParsedFile(format="")).read_header()
    if header is None:
        return ""
    if sitrep.looks_like(header):
        return sitrep.FORMAT
    if longform.looks_like(header):
        return longform.FORMAT
    return ""


def parse_text(
    text: str, *, fmt: str = "auto", on_conflict: str = "reject", mapping: Mapping | None = None
) -> ParsedFile:
    """Parse file text in the given (or detected) format, without touching the database.

    A mapped file (`mapping` given) raises `MappingError` when the mapping does not fit it.
    """
    if mapping is not None:
        return mapped.parse(io.StringIO(text, newline=""), mapping, on_conflict=on_conflict)
    if fmt == "auto":
        probe = ParsedFile(format="")
        if CsvRows(io.StringIO(text, newline=""), probe).read_header() is None:
            return probe  # empty, or a header that cannot be read: the errors say why
        fmt = detect_format(text)
    if fmt == sitrep.FORMAT:
        return sitrep.parse(io.StringIO(text, newline=""), on_conflict=on_conflict)
    if fmt == longform.FORMAT:
        return longform.parse(
            io.StringIO(text, newline=""),
            on_conflict=on_conflict,
            tz=ZoneInfo(settings.TIME_ZONE),
        )
    parsed = ParsedFile(format=fmt)
    parsed.errors.append(
        Problem(
            "not a recognised format: expected a sitrep (Code, Name, Date, …) or the long "
            "format (org_code, site_code, measure, as_of, value)",
            row=1,
        )
    )
    return parsed


def import_file(
    *,
    by: Any,
    path_or_stream: str | Path | IO[Any],
    name: str,
    fmt: str = "auto",
    on_conflict: str = "reject",
    dry_run: bool = False,
    allowed_organisation_ids: set[int] | None = None,
    mapping: Mapping | None = None,
) -> ImportOutcome:
    """Import one file whole, or raise `ImportRejected` with every problem and store nothing.

    `on_conflict`: 'reject' (default) refuses a file whose duplicate rows disagree;
    'last' keeps the last value in file order and stores the one it replaced as an earlier
    revision. Importing the same file again changes nothing. `dry_run` does everything,
    reports it, and rolls back. `allowed_organisation_ids`, when given (uploads by a person),
    rejects rows for any other organisation and never registers a new one.
    `mapping` (from `importers.mapped.load_mapping`) reads a file in another layout
    (`fmt='mapped'`, implied by giving a mapping); a mapping that does not fit the file
    rejects it with the mapping's line named.
    """
    if on_conflict not in ON_CONFLICT_CHOICES:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT_CHOICES}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    if mapping is not None and fmt == "auto":
        fmt = mapped.FORMAT
    if (fmt == mapped.FORMAT) != (mapping is not None):
        raise ValueError("a mapped file needs a mapping, and a mapping needs fmt='mapped'")
    outcome = ImportOutcome(name=name, on_conflict=on_conflict, dry_run=dry_run)
    if mapping is not None:
        outcome.mapping = mapping.source
    with _gc_paused():
        return _import(
            by,
            path_or_stream,
            fmt,
            on_conflict,
            dry_run,
            outcome,
            allowed_organisation_ids,
            mapping,
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file's ~200k small objects are built.

    They hold no reference cycles; with the collector running, repeated full scans of the
    growing heap took three quarters of the parse time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import(
    by: Any,
    path_or_stream: str | Path | IO[Any],
    fmt: str,
    on_conflict: str,
    dry_run: bool,
    outcome: ImportOutcome,
    allowed: set[int] | None = None,
    mapping: Mapping | None = None,
) -> ImportOutcome:
    try:
        text = _read_text(path_or_stream, mapping)
    except ValueError as exc:
        raise ImportRejected([Problem(f"the file is {exc}", row=1)], outcome) from None
    try:
        parsed = parse_text(text, fmt=fmt, on_conflict=on_conflict, mapping=mapping)
    except MappingError as exc:
        raise ImportRejected(
            [Problem(f"the mapping does not fit the file: {exc}")], outcome
        ) from None
    outcome.rows_skipped = parsed.skipped_rows
    outcome.format = parsed.format
    outcome.rows = parsed.rows
    outcome.england_rows_skipped = parsed.england_rows
    outcome.duplicate_rows_merged = parsed.duplicate_rows_merged
    outcome.duplicate_rows_collapsed = parsed.duplicate_rows_collapsed
    outcome.conflicts = parsed.conflicts
    outcome.unknown_columns = parsed.unknown_columns
    outcome.ignored_columns = parsed.ignored_columns
    if parsed.errors:
        raise ImportRejected(parsed.errors, outcome)
    with transaction.atomic():
        if mapping is not None:
            _resolve_mapped(by=by, parsed=parsed, mapping=mapping, outcome=outcome, allowed=allowed)
        _store(by=by, parsed=parsed, outcome=outcome, allowed=allowed)
        if dry_run:
            transaction.set_rollback(True)
    return outcome


def _store(
    *, by: Any, parsed: ParsedFile, outcome: ImportOutcome, allowed: set[int] | None = None
) -> None:
    """Resolve codes and record the cells; raises ImportRejected (rolling back) on errors."""
    problems: list[Problem] = []
    codes = {c.code for c in parsed.cells} | set(parsed.first_row)
    orgs = {o.code: o for o in Organisation.objects.filter(code__in=codes)}
    for code in sorted(codes - orgs.keys(), key=lambda c: parsed.first_row.get(c, 0)):
        if parsed.format == sitrep.FORMAT and allowed is None:
            org_name = parsed.names.get(code) or code
            orgs[code] = organisations_actions.register_organisation(
                by=by, code=code, name=org_name, kind=OrganisationKind.ACUTE
            )
            outcome.registered_organisations.append((code, org_name))
        else:
            problems.append(
                Problem(
                    f"unknown organisation code {code!r}",
                    parsed.code_column or "org_code",
                    parsed.first_row.get(code),
                )
            )
    current = {code: org.current() for code, org in orgs.items()}
    if allowed is not None:
        for code, org in sorted(current.items(), key=lambda kv: parsed.first_row.get(kv[0], 0)):
            if org.pk not in allowed:
                problems.append(
                    Problem(
                        f"you cannot report for {code}: it is not your organisation",
                        parsed.code_column
                        or ("org_code" if parsed.format != sitrep.FORMAT else "Code"),
                        parsed.first_row.get(code),
                    )
                )
    successor_of = {code: cur.code for code, cur in current.items() if cur.code != code}
    by_code = {**orgs, **{cur.code: cur for cur in current.values()}}
    cells, combine = combine_into_successors(parsed.cells, successor_of)
    _note_combination(outcome, combine)

    sites = {
        s.code: s
        for s in Site.objects.filter(code__in=parsed.site_rows).select_related("organisation")
    }
    for code, row in parsed.site_rows.items():
        if code not in sites:
            problems.append(
                Problem(f"unknown site code {code!r}", parsed.site_column or "site_code", row)
            )
    final: list[CellIn] = []
    earlier: list[CellIn] = []
    bad_site_rows: set[int] = set()
    for c in cells:
        org = by_code.get(c.code)
        if org is None:
            continue  # already reported as unknown
        site_id = None
        if c.site_code:
            site = sites.get(c.site_code)
            if site is None:
                continue
            if site.organisation.current().pk != org.pk:
                if c.row not in bad_site_rows:
                    bad_site_rows.add(c.row)
                    problems.append(
                        Problem(
                            f"site {site.code} belongs to {site.organisation.code}, not {c.code}",
                            parsed.site_column or "site_code",
                            c.row,
                        )
                    )
                continue
            site_id = site.pk
            org_id = site.organisation_id
        else:
            org_id = org.pk
        final.append(_cell_in(c, org_id, site_id, parsed.time_column))
        if c.earlier is not None:
            e = c.earlier
            earlier.append(
                _cell_in(c, org_id, site_id, parsed.time_column)._replace(
                    value=e.value, text=e.text, missing_reason=e.missing_reason, row=e.row
                )
            )
    if problems:
        raise ImportRejected(problems, outcome)
    outcome.cells = len(final)
    if not final:
        return
    org_ids = sorted({c.organisation_id for c in final})
    first_org = min(final, key=lambda c: c.row or 0).organisation_id
    now = timezone.now()
    earlier = _not_yet_final(earlier, final)
    try:
        for batch in (earlier, final):
            if not batch:
                continue
            result = record_report(
                by=by,
                organisation_id=first_org,
                source=Source.IMPORT,
                cells=batch,
                reference=outcome.name,
                received_at=now,
                extra_organisation_ids=org_ids,
            )
            if result.submission_id:
                outcome.submission_ids.append(result.submission_id)
            outcome.warnings.extend(w for w in result.warnings if w not in outcome.warnings)
            if batch is final:
                outcome.unchanged += result.unchanged
            else:
                outcome.earlier_revisions_stored = result.stored
            outcome.created += result.created
            outcome.revised += result.revised
    except ReportRejected as exc:
        raise ImportRejected(exc.problems, outcome) from None


def _cell_in(c: ParsedCell, org_id: int, site_id: int | None, time_column: str) -> CellIn:
    """A parsed cell to record. Its time is a report time already (the parsers file each
    time under its minute), so a re-import with `on_conflict='last'` compares values at the
    time they are stored under."""
    return CellIn(
        organisation_id=org_id,
        site_id=site_id,
        measure=c.measure,
        as_of=c.as_of,
        time_field=time_column,
        value=c.value,
        text=c.text,
        missing_reason=c.missing_reason,
        row=c.row,
        field=c.column,
    )


def _not_yet_final(earlier: list[CellIn], final: list[CellIn]) -> list[CellIn]:
    """Superseded values still worth storing: not where the final value is already current.

    This is what makes a second import of the same file with on_conflict='last' change
    nothing: the final value is current, so the superseded one is not stored again on top.
    """
    if not earlier:
        return []
    keys = {(c.organisation_id, c.site_id, c.measure, c.as_of) for c in earlier}
    wanted = {(c.organisation_id, c.site_id, c.measure, c.as_of): c for c in final}
    series = {
        (org, site, code): sid
        for sid, org, site, code in Series.objects.filter(
            organisation_id__in={k[0] for k in keys}, measure__code__in={k[2] for k in keys}
        ).values_list("id", "organisation_id", "site_id", "measure__code")
    }
    times = {k[3] for k in keys}
    current = {
        (o.series_id, o.as_of): o
        for o in Observation.objects.filter(
            series_id__in=set(series.values()),
            is_current=True,
            as_of__gte=min(times),
            as_of__lte=max(times),
        )
    }
    keep = []
    for c in earlier:
        key = (c.organisation_id, c.site_id, c.measure, c.as_of)
        sid = series.get(key[:3])
        obs = current.get((sid, c.as_of)) if sid else None
        target = wanted.get(key)
        if obs is not None and target is not None and _equal(obs, target):
            continue
        keep.append(c)
    return keep


def _equal(obs: Observation, cell: CellIn) -> bool:
    return (obs.value, obs.text, obs.missing_reason) == (
        cell.value,
        cell.text,
        cell.missing_reason,
    )


def _note_combination(outcome: ImportOutcome, combine: CombineReport) -> None:
    outcome.retired_codes_mapped = dict(sorted(combine.mapped.items()))
    outcome.predecessor_rows_combined = combine.combined_rows
    outcome.predecessor_rows_relabelled = combine.relabelled_rows


def _resolve_mapped(
    *,
    by: Any,
    parsed: ParsedFile,
    mapping: Mapping,
    outcome: ImportOutcome,
    allowed: set[int] | None,
) -> None:
    """Put registry codes on a mapped file's cells before they are stored.

    Names (`match = "name"`) are looked up among the registry's names and aliases (compared
    by `name_key`); a name found nowhere, or naming two organisations, is an error naming the
    row and column. Codes the registry does not know are registered when the mapping says
    `register = true` and the import is not a person's upload (`allowed` is None); otherwise
    `_store` reports them. Raises `ImportRejected`, rolling back, on any problem.
    """
    problems: list[Problem] = []
    org, site = mapping.organisation, mapping.site
    lookup: dict[str, set[str]] = {}
    if any(c.startswith(mapped.NAME_PREFIX) for c in parsed.first_row):
        for code, org_name in Organisation.objects.values_list("code", "name"):
            lookup.setdefault(name_key(org_name), set()).add(code)
        for code, key in OrganisationAlias.objects.values_list("organisation__code", "key"):
            lookup.setdefault(key, set()).add(code)
    rename = _by_name(
        parsed, parsed.first_row, lookup, parsed.code_column, problems,
        ambiguous="{shown!r} names {found}: add a code column or make the name unique",
        unknown="no organisation is named {shown!r} (nor has it as an alias): add one with "
        "`flotilla load-registry` (aliases column)",
    )  # fmt: skip
    site_lookup: dict[str, set[str]] = {}
    if any(c.startswith(mapped.NAME_PREFIX) for c in parsed.site_rows):
        for code, site_name in Site.objects.values_list("code", "name"):
            site_lookup.setdefault(name_key(site_name), set()).add(code)
    site_rename = _by_name(
        parsed, parsed.site_rows, site_lookup, parsed.site_column, problems,
        ambiguous="{shown!r} names sites {found}",
        unknown="no site is named {shown!r}",
    )  # fmt: skip
    if problems:
        raise ImportRejected(problems, outcome)
    if rename or site_rename:
        for c in parsed.cells:
            c.code = rename.get(c.code, c.code)
            c.site_code = site_rename.get(c.site_code, c.site_code)
        parsed.first_row = {rename.get(k, k): v for k, v in parsed.first_row.items()}
        parsed.site_rows = {site_rename.get(k, k): v for k, v in parsed.site_rows.items()}
        parsed.site_organisations = {
            site_rename.get(k, k): rename.get(v, v) for k, v in parsed.site_organisations.items()
        }
    if (
        site is not None
        and org.first
        and " ".join(org.column.split()).lower() == " ".join(site.column.split()).lower()
    ):
        # The organisation is only the site code's first characters (a Welsh hospital's
        # health board): for a site the registry knows, its registered organisation wins
        # (Princess of Wales, 7A3B7, moved from 7A3 to 7A5 in 2019 and kept its code).
        owner_of = {
            s.code: s.organisation.current().code
            for s in Site.objects.filter(code__in=parsed.site_rows).select_related("organisation")
        }
        for c in parsed.cells:
            c.code = owner_of.get(c.site_code, c.code)
        for code, row in parsed.site_rows.items():
            if code in owner_of:
                owner = owner_of[code]
                parsed.first_row[owner] = min(row, parsed.first_row.get(owner, row))
                parsed.site_organisations[code] = owner
    registering = allowed is None
    if org.register and registering:
        known = set(
            Organisation.objects.filter(code__in=parsed.first_row).values_list("code", flat=True)
        )
        for code in sorted(set(parsed.first_row) - known, key=parsed.first_row.__getitem__):
            org_name = parsed.names.get(code) or code
            organisations_actions.register_organisation(
                by=by, code=code, name=org_name, kind=org.kind
            )
            outcome.registered_organisations.append((code, org_name))
    if site is not None and site.register and registering:
        known = set(Site.objects.filter(code__in=parsed.site_rows).values_list("code", flat=True))
        owners = {
            o.code: o
            for o in Organisation.objects.filter(code__in=set(parsed.site_organisations.values()))
        }
        for code in sorted(set(parsed.site_rows) - known, key=parsed.site_rows.__getitem__):
            owner = owners.get(parsed.site_organisations.get(code, ""))
            if owner is None:
                continue  # its organisation is unknown: reported by `_store`
            site_name = parsed.names.get(code) or code
            organisations_actions.register_site(
                by=by, code=code, name=site_name, organisation=owner.current()
            )
            outcome.registered_sites.append((code, site_name))


def _by_name(
    parsed: ParsedFile,
    first_rows: dict[str, int],
    lookup: dict[str, set[str]],
    column: str,
    problems: list[Problem],
    *,
    ambiguous: str,
    unknown: str,
) -> dict[str, str]:
    """Name key → the one registry code it names; a name naming none or several is a
    problem at the first row that gives it (`ambiguous`/`unknown` are the messages, with
    `{shown}` the name as the file gives it and `{found}` the codes it names)."""
    rename: dict[str, str] = {}
    for key in [c for c in first_rows if c.startswith(mapped.NAME_PREFIX)]:
        found = lookup.get(key.removeprefix(mapped.NAME_PREFIX), set())
        shown = parsed.names.get(key, key)
        if len(found) == 1:
            rename[key] = next(iter(found))
        else:
            text = ambiguous if found else unknown
            message = text.format(shown=shown, found=" and ".join(sorted(found)))
            problems.append(Problem(message, column, first_rows[key]))
    return rename
