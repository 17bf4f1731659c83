from typing import Any

from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "flotilla.sharing"
    label = "sharing"

    def ready(self) -> None:
        # Sharing reacts to joins and leaves without the collaboratives app knowing about it
        # (ADR 0013): the receivers run inside the joining or leaving transaction.
        from flotilla.collaboratives import events
        from flotilla.sharing import actions

        def opened(*, by: Any, membership: Any, **_: Any) -> None:
            actions.open_by_default(by=by, membership=membership)

        def ended(*, by: Any, membership: Any, **_: Any) -> None:
            actions.end_on_leaving(by=by, membership=membership)

        events.member_joined.connect(opened, dispatch_uid="sharing.open_by_default", weak=False)
        events.member_left.connect(ended, dispatch_uid="sharing.end_on_leaving", weak=False)
