"""Who is who: regions, integrated care systems, organisations and their sites.

The bottom of the domain: every other app refers to an organisation, and this app refers to
none of them. Loaded from the published reference files by `reference.py`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Region(models.Model):
    """An NHS England region (ODS code Y56–Y63)."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class IntegratedCareSystem(models.Model):
    """An integrated care system, identified by its ICB (or former STP) code."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)

    def __str__(self) -> str:
        return self.name


class OrganisationKind(models.TextChoices):
    ACUTE = "acute", "Acute trust"
    MENTAL_HEALTH = "mental_health", "Mental health"
    COMMUNITY = "community", "Community"
    AMBULANCE = "ambulance", "Ambulance service"
    INDEPENDENT = "independent", "Independent sector"
    SOCIAL_CARE = "social_care", "Social care"
    #: An ICB or other commissioner: a member of collaboratives that does not report beds.
    COMMISSIONER = "commissioner", "Commissioner (ICB)"
    OTHER = "other", "Other"


class Organisation(models.Model):
    """A provider (trust or similar) with its ODS code. Retired codes point at a successor."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    ics = models.ForeignKey(IntegratedCareSystem, null=True, blank=True, on_delete=models.PROTECT)
    postcode = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    successor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="predecessors"
    )
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(successor=models.F("id")), name="organisation_not_own_successor"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="organisation_latitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def acting_organisation_ids(self) -> list[int]:
        """Whose people act for it, for permission checks (`flotilla.authz.checks.can`)."""
        return [self.pk]

    @property
    def is_retired(self) -> bool:
        return self.successor_id is not None or self.closed_on is not None

    def current(self) -> Organisation:
        """Follow the merger chain to the organisation that holds this code's history now."""
        org, seen = self, {self.pk}
        while org.successor_id and org.successor_id not in seen:
            seen.add(org.successor_id)
            org = org.successor
        return org


class Site(models.Model):
    """A hospital or other site of an organisation (5-character site code)."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=300)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="sites")
    postcode = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def acting_organisation_ids(self) -> list[int]:
        """A site is acted for by its organisation's people."""
        return [self.organisation_id]


def name_key(name: str) -> str:
    """How names are compared when a file names an organisation or site instead of coding it:
    case-insensitive, "&" read as "and", other punctuation dropped, repeated spaces ignored
    ("St. Mary's  Hospital & Clinic" → "st marys hospital and clinic"; a hyphen, slash,
    comma, full stop or bracket parts words). Accented letters are kept as they are: "Côte"
    and "Cote" do not match (an alias says they are the same), so that two names that differ
    only by an accent are never taken for one without someone saying so."""
    text = name.casefold().replace("&", " and ")
    kept = "".join(
        ch if ch.isalnum() or ch.isspace() else (" " if ch in "-/,()." else "") for ch in text
    )
    return " ".join(kept.split())


class OrganisationAlias(models.Model):
    """Another name an organisation goes by in published files (a former or short name).

    Written only through `actions.add_organisation_alias`. Matching by name (the mapping
    importer) compares `key` (see `name_key`) with organisations' names and aliases.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=300)
    key = models.CharField(max_length=300, db_index=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="organisation_alias_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.organisation.code}"
