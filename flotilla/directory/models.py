"""An organisation's on-call directory: who to call there, for what, how and when.

An entry is never deleted: removing it ends it, with who and when, so the audit trail and
anyone reading an old export can still tell what was listed. Only current entries (not
ended) are shown. Who sees which organisation's entries is decided in `queries`, on the
sharing policy (the `contacts` measure group, shared like narrative text: exactly or not at
all).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.directory.validation import dial
from flotilla.organisations.models import Organisation, Site


class Route(models.TextChoices):
    """How to reach whoever is on call."""

    PHONE = "phone", "Phone"
    BLEEP = "bleep", "Bleep"
    EMAIL = "email", "Email"
    RADIO = "radio", "Radio"
    OTHER = "other", "Other"


class OnCallEntry(models.Model):
    """One role on call at an organisation (or one of its sites), and how to reach it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="on_call_entries"
    )
    #: One of the organisation's sites; None: the organisation as a whole.
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: "Site manager on call", "Critical care consultant on call".
    role = models.CharField(max_length=200)
    #: Who is on call, when it is one person for a while; often left empty (it changes).
    name = models.CharField(max_length=200, blank=True, default="")
    route = models.CharField(max_length=10, choices=Route.choices)
    #: The number, bleep, address or channel to use.
    contact = models.CharField(max_length=200)
    #: When the route answers: "24/7", "08:00–20:00 weekdays".
    hours = models.CharField(max_length=100)
    notes = models.TextField(blank=True, default="")
    #: Its place in the organisation's list, lowest first.
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    #: When it was added or last changed: what a viewer's delay is counted from.
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["organisation", "position", "pk"]
        verbose_name_plural = "on-call entries"
        indexes = [models.Index(fields=["organisation", "ended_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(route__in=Route.values), name="on_call_entry_known_route"
            ),
            models.CheckConstraint(
                condition=~Q(role="") & ~Q(contact="") & ~Q(hours=""),
                name="on_call_entry_role_contact_and_hours",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, ended_by__isnull=True)
                | Q(ended_at__isnull=False),
                name="on_call_entry_ended_by_only_when_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} ({self.organisation.code}): {self.get_route_display()} {self.contact}"

    @property
    def is_current(self) -> bool:
        return self.ended_at is None

    def href(self) -> str:
        """A link that dials, writes or nothing: tel: for a phone, mailto: for an email."""
        if self.route == Route.PHONE:
            number = dial(self.contact)
            return f"tel:{number}" if number else ""
        if self.route == Route.EMAIL:
            return "mailto:" + self.contact
        return ""
