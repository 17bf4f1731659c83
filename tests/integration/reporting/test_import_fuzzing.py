"""Fuzzing the whole import, database included: any file is stored whole, exactly as the
outcome says, or refused whole with problems that say where, and nothing is stored."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flotilla.organisations.models import Organisation
from flotilla.reporting.imports import ImportOutcome, ImportRejected, import_file
from flotilla.reporting.models import Observation, Submission
from tests import factories as f
from tests.csv_fuzz import as_csv, assert_located, files


def attempt(data: bytes, on_conflict: str = "reject") -> ImportOutcome | ImportRejected:
    """The import's outcome, or its refusal."""
    try:
        return import_file(
            by=f.SYSTEM, path_or_stream=io.BytesIO(data), name="fuzz.csv", on_conflict=on_conflict
        )
    except ImportRejected as refused:
        return refused


def counts() -> tuple[int, int, int]:
    return (
        Observation.objects.count(),
        Submission.objects.count(),
        Organisation.objects.count(),
    )


@pytest.mark.django_db
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=files, quoted=st.booleans(), on_conflict=st.sampled_from(["reject", "last"]))
def test_any_file_is_stored_whole_as_its_outcome_says_or_refused_whole(file, quoted, on_conflict):
    text = as_csv(*file, quoted)
    before = counts()
    result = attempt(text.encode(), on_conflict)
    event("refused" if isinstance(result, ImportRejected) else "stored")
    if isinstance(result, ImportRejected):
        assert result.problems
        assert_located(result.problems, result.outcome.conflicts, text)
        assert counts() == before
    else:
        assert counts()[0] - before[0] == result.created + result.revised
        assert result.created + result.revised + result.unchanged <= result.cells


@pytest.mark.django_db
@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_are_imported_or_refused_with_a_problem_on_a_row(data):
    before = counts()
    result = attempt(data)
    if isinstance(result, ImportRejected):
        assert all(p.row is not None or p.field for p in result.problems), result.problems
        assert counts() == before
