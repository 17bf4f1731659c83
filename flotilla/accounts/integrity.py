"""How people sign in, against the audit record (see `flotilla.audit.integrity`): the provider
accounts linked to people (a link inserted by hand would sign its holder in as someone else)
and second factors (an authenticator added, or its key swapped, in the database would let its
holder pass as an admin)."""

from __future__ import annotations

from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from flotilla.accounts.actions import authenticator_snapshot, identity_snapshot, recovery_snapshot
from flotilla.accounts.models import OidcIdentity
from flotilla.audit.integrity import Difference, differences, expected_states


def check_identities() -> tuple[int, list[Difference]]:
    """(linked accounts checked, every one not as its audit events leave it)."""
    current = {str(i.pk): identity_snapshot(i) for i in OidcIdentity.objects.order_by("pk")}
    found = differences("linked sign-in account", expected_states("accounts.oidcidentity"), current)
    return len(current), found


def check_second_factors() -> tuple[int, list[Difference]]:
    """(authenticators and sets of recovery codes checked, every one not as audited)."""
    apps = {str(d.pk): authenticator_snapshot(d) for d in TOTPDevice.objects.order_by("pk")}
    codes = {
        str(d.pk): recovery_snapshot(d)
        for d in StaticDevice.objects.prefetch_related("token_set").order_by("pk")
    }
    found = differences("authenticator", expected_states("otp_totp.totpdevice"), apps)
    found += differences("recovery codes", expected_states("otp_static.staticdevice"), codes)
    return len(apps) + len(codes), found
