"""`flotilla export-edxl-have`: the HAVE document as one organisation may see it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from flotilla.interop import have
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


def test_the_command_writes_the_document_as_the_named_organisation_sees_it(cast, tmp_path):
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=50, ga_occupied=45)
    out = tmp_path / "have.xml"
    call_command(
        "export-edxl-have", collaborative=cast.collab.slug, as_organisation="RN1", out=str(out)
    )
    document = out.read_bytes()
    assert have.validate(document) == []
    available = have.parsed(document).xpath(
        "//h:Hospital[.//h:OrganizationID/h:Value='RS1']//h:AvailableCount/text()",
        namespaces={"h": have.NS},
    )
    assert available == ["5"]
    assert recorded().filter(owner=cast.south, what="command export-edxl-have").exists()


def test_the_command_reads_nothing_an_outsider_may_not(cast):
    with pytest.raises(CommandError, match="not a member"):
        call_command("export-edxl-have", collaborative=cast.collab.slug, as_organisation="RX1")
    with pytest.raises(CommandError, match="shares nothing"):
        call_command("export-edxl-have", organisation="RS1", as_organisation="RX1")


def test_the_command_writes_to_standard_output_by_default(cast):
    out = io.StringIO()
    call_command("export-edxl-have", organisation="RN1", as_organisation="RN1", stdout=out)
    assert have.validate(out.getvalue().encode()) == []
