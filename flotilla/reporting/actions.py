"""Every write to reporting goes through here: one transaction, audited."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from flotilla import catalogue as catalogue_module
from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.jobs.retry import queue_all
from flotilla.reporting import events, reminders
from flotilla.reporting.models import (
    IdempotencyRecord,
    Measure,
    MeasureRule,
    Observation,
    Series,
    Source,
    Submission,
)
from flotilla.reporting.queries import LatestValue, latest_as_at
from flotilla.reporting.validation import (
    CellIn,
    Problem,
    ReportRejected,
    ReportTimes,
    check_cells,
)
from flotilla.sql import for_update, placeholders


@dataclass
class ReportResult:
    """What storing a report did."""

    submission_id: int | None = None
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    warnings: list[Problem] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.revised

    def as_dict(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "created": self.created,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "warnings": [
                {"row": w.row, "field": w.field, "message": w.message} for w in self.warnings
            ],
        }


def load_catalogue(*, by: Any) -> dict[str, int]:
    """Bring the measures and rules in the database in line with the catalogue file."""
    cat = catalogue_module.current()
    with transaction.atomic():
        existing = {m.code: m for m in Measure.objects.all()}
        changed = 0
        for spec in cat.measures:
            values = {
                "label": spec.label,
                "description": spec.description,
                "group": spec.group,
                "kind": spec.kind,
                "bed_type": spec.bed_type,
                "state": spec.state,
                "unit": spec.unit,
                "min_value": spec.min_value,
                "max_value": spec.max_value,
                "level": spec.level,
                "order": spec.order,
                "catalogue_version": cat.version,
            }
            m = existing.get(spec.code)
            if m is None:
                existing[spec.code] = Measure.objects.create(code=spec.code, **values)
                changed += 1
            elif any(getattr(m, k) != v for k, v in values.items()):
                Measure.objects.filter(pk=m.pk).update(**values)
                changed += 1
        rules = {r.code: r for r in MeasureRule.objects.all()}
        for spec in cat.rules:
            values = {
                "left": existing[spec.left],
                "op": spec.op,
                "right": existing[spec.right],
                "severity": spec.severity,
                "message": spec.message,
                "catalogue_version": cat.version,
            }
            r = rules.get(spec.code)
            if r is None:
                MeasureRule.objects.create(code=spec.code, **values)
                changed += 1
            elif any(getattr(r, k) != v for k, v in values.items()):
                MeasureRule.objects.filter(pk=r.pk).update(**values)
                changed += 1
        if changed:
            audit.record(
                by=by,
                action="reporting.catalogue_loaded",
                object_type="reporting.catalogue",
                object_id=cat.version,
                after={"version": cat.version, "changed": changed},
            )
    return {"changed": changed, "measures": len(cat.measures), "rules": len(cat.rules)}


def _series_ids(
    keys: set[tuple[int, int | None, str]], *, lock: bool = False
) -> dict[tuple[int, int | None, str], int]:
    """Ids of the series for (organisation, site, measure code) keys, creating missing ones.

    With `lock`, the organisations' series rows are locked in id order as they are read (see
    `record_report`). The measure codes come with the series in one statement, written out:
    every report makes it, and the ORM cost more to build it than to run it (ADR 0046). The
    measures themselves are read only when a series has to be made.
    """
    if not keys:
        return {}
    org_ids = sorted({k[0] for k in keys})
    series, measures = Series._meta, Measure._meta
    sql = (
        f"SELECT s.id, s.organisation_id, s.site_id, m.code FROM {series.db_table} s"
        f" JOIN {measures.db_table} m ON m.id = s.measure_id"
        f" WHERE s.organisation_id IN ({placeholders(org_ids)})"
    )
    if lock:
        sql += f" ORDER BY s.id{for_update(of='s')}"

    def fetch() -> dict[tuple[int, int | None, str], int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, org_ids)
            return {(org, site, code): sid for sid, org, site, code in cursor.fetchall()}

    found = fetch()
    missing = keys - found.keys()
    if missing:
        measure_ids = dict(
            Measure.objects.filter(code__in={k[2] for k in missing}).values_list("code", "id")
        )
        Series.objects.bulk_create(
            [
                Series(organisation_id=org, site_id=site, measure_id=measure_ids[code])
                for org, site, code in missing
            ],
            ignore_conflicts=True,
        )
        found = fetch()
    return {k: found[k] for k in keys}


class _Current(NamedTuple):
    """The stored current value of a series at one time, as much of it as a report needs."""

    pk: int
    series_id: int
    as_of: datetime
    value: float | None
    text: str | None
    missing_reason: str
    revision: int


def _current_values(
    series_ids: set[int], lo: datetime, hi: datetime
) -> dict[tuple[int, datetime], _Current]:
    """The current values of these series from `lo` to `hi`, locked, by (series, as-of).

    Written out (ADR 0046): every report reads them. `raw()` keeps the ORM's conversions."""
    ids = sorted(series_ids)
    sql = (
        f"SELECT id, series_id, as_of, value, text, missing_reason, revision"
        f" FROM {Observation._meta.db_table}"
        f" WHERE series_id IN ({placeholders(ids)}) AND is_current"
        f" AND as_of >= %s AND as_of <= %s{for_update()}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    return {
        (o.series_id, o.as_of): _Current(
            o.pk, o.series_id, o.as_of, o.value, o.text, o.missing_reason, o.revision
        )
        for o in Observation.objects.raw(sql, [*ids, adapt(lo), adapt(hi)])
    }


def _insert_observations(
    rows: list[tuple[int, datetime, float | None, str | None, str, int]], submission_id: int
) -> None:
    """Insert many observations with one executemany.

    Measured on sitrep2122 (205k values): bulk_create spent most of its time compiling SQL
    for SQLite's small batches and building model instances; this is about four times faster.
    """
    table = connection.ops.quote_name(Observation._meta.db_table)
    columns = "(series_id, as_of, value, text, missing_reason, revision, is_current, submission_id)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is about twice as fast as executemany for a large report; psycopg sends
            # aware datetimes as they are.
            with cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy:
                for sid, as_of, value, text, reason, rev in rows:
                    copy.write_row((sid, as_of, value, text, reason, rev, True, submission_id))
            return

        # Django stores SQLite datetimes as naive UTC text. A large report has few distinct
        # times (a winter file: 125 days for 200k values), so each is converted once.
        @functools.cache
        def adapt(value: datetime) -> str:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")

        cursor.executemany(
            f"INSERT INTO {table} {columns} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (sid, adapt(as_of), value, text, reason, rev, True, submission_id)
                for sid, as_of, value, text, reason, rev in rows
            ],
        )


def _same(obs: _Current, cell: CellIn) -> bool:
    return (
        obs.value == cell.value
        and obs.text == cell.text
        and obs.missing_reason == cell.missing_reason
    )


def record_report(
    *,
    by: Any,
    organisation_id: int,
    source: str,
    cells: Sequence[CellIn],
    reference: str = "",
    confirms_no_change: bool = False,
    received_at: datetime | None = None,
    extra_organisation_ids: Sequence[int] = (),
) -> ReportResult:
    """Validate and store a report; nothing is stored if any cell has an error.

    Each value is filed under its report time (`validation.report_time`: the as-of truncated
    to the minute), so reports made within the same minute are revisions of one another and
    the later received wins. A time more than an hour ahead of now or before 2000 is an error.
    A value equal to the current one for the same series and report time is left alone, so a
    repeated report changes nothing. A different value becomes a new revision and the old one
    stays, marked superseded. `extra_organisation_ids` lets an import by platform staff cover
    many organisations in one submission.
    """
    catalogue = catalogue_module.current()
    problems = check_cells(cells, catalogue)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ReportRejected(errors)
    allowed_orgs = {organisation_id, *extra_organisation_ids}
    strays = [c for c in cells if c.organisation_id not in allowed_orgs]
    if strays:
        raise ReportRejected(
            [
                Problem(
                    "a report can only carry the reporting organisation's values", "", strays[0].row
                )
            ]
        )
    seen: dict[tuple[int, int | None, str, datetime], CellIn] = {}
    filed = ReportTimes()
    last: datetime | None = None
    moved: datetime | None = None
    for c in cells:
        # Most cells are on a whole minute already, and share their time with the cell
        # before: re-making 200,000 of them for nothing would cost more than this loop.
        if c.as_of is not last:
            last = c.as_of
            moved = filed(last)
            moved = None if moved == last else moved
        if moved is not None:
            c = c._replace(as_of=moved)
        key = (c.organisation_id, c.site_id, c.measure, c.as_of)
        if key in seen and not _same_cell(seen[key], c):
            raise ReportRejected(
                [
                    Problem(
                        f"two different values for {c.measure} at {c.as_of:%Y-%m-%d %H:%M}",
                        c.field,
                        c.row,
                    )
                ]
            )
        seen[key] = c
    unique_cells = list(seen.values())
    result = ReportResult(warnings=[p for p in problems if p.severity == "warning"])
    actor = as_principal(by)
    now = received_at or timezone.now()
    # No savepoint when called inside a transaction: nothing below is caught and gone on from.
    with transaction.atomic(savepoint=False):
        # One report at a time per series: the reporting organisations' series rows are
        # locked (in id order, so two reports never wait on each other crosswise) as their
        # ids are read, before their current values are. Locking the current values alone is
        # not enough: a report of a minute with no value yet locks nothing, and one that
        # waited for a value superseded meanwhile finds it no longer current; either way two
        # reports would both file a current value for the same minute. After the wait the
        # current values are read afresh (on PostgreSQL each statement sees what committed
        # before it), so the later report revises the earlier. The lock covers all of an
        # organisation's series, not only those reported: reading and locking in one
        # statement costs less than a second statement, and one organisation's reports
        # rarely overlap. SQLite runs one writing transaction at a time already.
        series = _series_ids(
            {(c.organisation_id, c.site_id, c.measure) for c in unique_cells}, lock=True
        )
        times = {c.as_of for c in unique_cells}
        current: dict[tuple[int, datetime], _Current] = {}
        if unique_cells:
            current = _current_values(set(series.values()), min(times), max(times))
        new_rows: list[tuple[int, datetime, float | None, str | None, str, int]] = []
        superseded: list[_Current] = []
        for c in unique_cells:
            sid = series[(c.organisation_id, c.site_id, c.measure)]
            old = current.get((sid, c.as_of))
            if old is not None and _same(old, c):
                result.unchanged += 1
                continue
            revision = old.revision + 1 if old else 1
            new_rows.append((sid, c.as_of, c.value, c.text, c.missing_reason, revision))
            if old is not None:
                superseded.append(old)
        if not new_rows and not confirms_no_change:
            return result
        submission = Submission.objects.create(
            organisation_id=organisation_id,
            source=source,
            submitted_by=actor.user,
            token_id=actor.token_id,
            received_at=now,
            reference=reference[:300],
            confirms_no_change=confirms_no_change,
        )
        if superseded:
            Observation.objects.filter(pk__in=[o.pk for o in superseded]).update(is_current=False)
        _insert_observations(new_rows, submission.pk)
        result.submission_id = submission.pk
        result.created = len(new_rows) - len(superseded)
        result.revised = len(superseded)
        newest: dict[int, datetime] = {}
        for c in unique_cells:
            newest[c.organisation_id] = max(c.as_of, newest.get(c.organisation_id, c.as_of))
        # Every job the receivers call for is queued at once (ADR 0042).
        answers = events.report_recorded.send(
            sender=Submission, by=actor, submission=submission, newest=newest
        )
        queue_all([job for _, wanted in answers for job in wanted or ()])
        audit.record(
            by=actor,
            action="reporting.report_submitted",
            obj=submission,
            organisation_id=organisation_id,
            before={
                "superseded": [
                    [o.pk, o.series_id, o.as_of.isoformat(), o.value, o.text, o.missing_reason]
                    for o in superseded
                ]
            }
            if superseded
            else None,
            after={
                "source": source,
                "reference": reference,
                "created": result.created,
                "revised": result.revised,
                "unchanged": result.unchanged,
                "confirms_no_change": confirms_no_change,
                "organisations": sorted({c.organisation_id for c in unique_cells}),
            },
        )
        reminders.clear_after_report(by=actor, newest=newest)
    return result


def _same_cell(a: CellIn, b: CellIn) -> bool:
    return a.value == b.value and a.text == b.text and a.missing_reason == b.missing_reason


def confirm_no_change(*, by: Any, organisation_id: int, site_id: int | None) -> ReportResult:
    """Re-state the latest figures as true now: 'no change since the last report'.

    Filed, like every report, under the current minute: a correction sent in the same minute
    is a revision of it, and wins.
    """
    now = timezone.now()
    latest = latest_observations(organisation_id=organisation_id, site_id=site_id)
    if not latest:
        raise ReportRejected([Problem("there is no earlier report to confirm")])
    cells = [
        CellIn(
            organisation_id=organisation_id,
            site_id=site_id,
            measure=code,
            as_of=now,
            value=o.value,
            text=o.text,
            missing_reason=o.missing_reason,
        )
        for code, o in latest.items()
    ]
    return record_report(
        by=by,
        organisation_id=organisation_id,
        source=Source.FORM,
        cells=cells,
        confirms_no_change=True,
        received_at=now,
    )


def latest_observations(*, organisation_id: int, site_id: int | None) -> dict[str, LatestValue]:
    """The current value of each measure for one organisation (or site), by measure code.

    Used by the organisation's own reporting form and by 'no change'; reads by anyone else go
    through flotilla.sharing.
    """
    series = Series.objects.filter(organisation_id=organisation_id, site_id=site_id)
    return {o.measure: o for o in latest_as_at(series, None)}


class KeyReused(Exception):
    """An idempotency key already used with a different body."""


#: How many times a submission is retried when a concurrent one with the same key wins.
IDEMPOTENCY_ATTEMPTS = 3


def _stored_answer(token: Any, key: str, body_sha256: str) -> dict[str, Any] | None:
    # Every API report asks first (ADR 0046); the key is unique for the token.
    table, key_column = IdempotencyRecord._meta.db_table, connection.ops.quote_name("key")
    sql = f"SELECT * FROM {table} WHERE token_id = %s AND {key_column} = %s"
    found = list(IdempotencyRecord.objects.raw(sql, [token.pk, key]))
    if not found:
        return None
    record = found[0]
    if record.body_sha256 != body_sha256:
        raise KeyReused(
            f"Idempotency-Key {key!r} was already used with a different body; nothing was "
            "stored. Use a new key for a new report."
        )
    return record.response


def record_report_once(
    *, by: Any, key: str, body_sha256: str, cells: Callable[[], Sequence[CellIn]]
) -> tuple[dict[str, Any], bool]:
    """Store a token's report unless this key was used before; returns (answer, replayed).

    `cells()` builds the report's cells: called once, and not at all for a plain retry.

    The key's record is created last, in the same transaction as the report, so that of two
    concurrent requests with one key exactly one stores: the second's insert waits on the
    unique index (on SQLite, its transaction waits for the write lock at BEGIN IMMEDIATE) and
    fails once the first commits; its report is rolled back with it (it found the first's
    values current and stored nothing, or, with a different body, stored what the key's
    answer does not), and the retry finds the record. A rejected report stores no record,
    so a corrected retry may reuse the key.
    """
    stored = _stored_answer(by, key, body_sha256)  # plain retries, without a write lock
    if stored is not None:
        return stored, True
    built = cells()  # before the write lock, not inside it
    for attempt in range(IDEMPOTENCY_ATTEMPTS):
        try:
            with transaction.atomic():
                answer = record_report(
                    by=by, organisation_id=by.organisation_id, source=Source.API, cells=built
                ).as_dict()
                IdempotencyRecord.objects.create(
                    token=by, key=key, body_sha256=body_sha256, response=answer
                )
            return answer, False
        except IntegrityError:
            if attempt == IDEMPOTENCY_ATTEMPTS - 1:
                raise
            stored = _stored_answer(by, key, body_sha256)
            if stored is not None:
                return stored, True
    raise AssertionError("unreachable")  # pragma: no cover
