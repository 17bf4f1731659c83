"""Named permissions and the roles that grant them. The one place that says who may do what."""

from __future__ import annotations

from enum import StrEnum

from flotilla.authz.models import Role


class Perm(StrEnum):
    """Everything a person can be allowed to do, by name."""

    VIEW_PICTURE = "view_picture"
    SUBMIT_REPORT = "submit_report"
    IMPORT_REPORTS = "import_reports"
    MANAGE_COLLABORATIVE = "manage_collaborative"
    CREATE_COLLABORATIVE = "create_collaborative"
    RESPOND_TO_INVITATION = "respond_to_invitation"
    LEAVE_COLLABORATIVE = "leave_collaborative"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_MEMBERS = "manage_members"
    VIEW_ACCESS_RECORD = "view_access_record"
    MANAGE_SHARING = "manage_sharing"
    MANAGE_WEBHOOKS = "manage_webhooks"
    ARRANGE_AID = "arrange_aid"
    MANAGE_DIRECTORY = "manage_directory"


#: What each role grants, with the sentence that justifies it.
ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    # A viewer reads the shared picture of the collaboratives their organisation belongs to.
    Role.VIEWER: frozenset({Perm.VIEW_PICTURE}),
    # A reporter also reports their own organisation's position, by form or file.
    Role.REPORTER: frozenset({Perm.VIEW_PICTURE, Perm.SUBMIT_REPORT, Perm.IMPORT_REPORTS}),
    # A coordinator reports too, runs the collaborative day to day (thresholds, invites),
    # asks for, offers and takes up mutual aid for the organisation, and keeps its on-call
    # directory ("who to call") up to date.
    Role.COORDINATOR: frozenset(
        {
            Perm.VIEW_PICTURE,
            Perm.SUBMIT_REPORT,
            Perm.IMPORT_REPORTS,
            Perm.MANAGE_COLLABORATIVE,
            Perm.ARRANGE_AID,
            Perm.MANAGE_DIRECTORY,
        }
    ),
    # An organisation admin speaks for the organisation: joins, leaves, issues tokens.
    # Listed one by one, so that a new permission is given to no one until someone decides.
    Role.ORG_ADMIN: frozenset(
        {
            Perm.VIEW_PICTURE,
            Perm.SUBMIT_REPORT,
            Perm.IMPORT_REPORTS,
            Perm.MANAGE_COLLABORATIVE,
            Perm.CREATE_COLLABORATIVE,
            Perm.RESPOND_TO_INVITATION,
            Perm.LEAVE_COLLABORATIVE,
            Perm.MANAGE_TOKENS,
            Perm.MANAGE_MEMBERS,
            Perm.VIEW_ACCESS_RECORD,
            Perm.MANAGE_SHARING,
            Perm.MANAGE_WEBHOOKS,
            Perm.ARRANGE_AID,
            Perm.MANAGE_DIRECTORY,
        }
    ),
}

ROLE_SENTENCES: dict[str, str] = {
    Role.VIEWER: "Reads the shared picture of the collaboratives the organisation belongs to.",
    Role.REPORTER: "Also reports the organisation's position, by form or by file.",
    Role.COORDINATOR: "Also runs collaboratives day to day (thresholds and invitations), "
    "asks for, offers and takes up mutual aid, and keeps the organisation's on-call directory.",
    Role.ORG_ADMIN: "Speaks for the organisation: creates, joins and leaves collaboratives, "
    "manages people and API tokens, decides who sees the organisation's data (sharing "
    "grants), and sees who has read it.",
}
