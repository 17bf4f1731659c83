from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _register_profiles(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # The shipped profiles are data levels refer to; every migrated database (a test
    # database too) stores their versions. Registering is idempotent.
    from django.db import connections

    from flotilla.audit.principals import Principal
    from flotilla.escalation.actions import register_shipped
    from flotilla.escalation.models import ProfileVersion

    if ProfileVersion._meta.db_table not in connections[using].introspection.table_names():
        return
    register_shipped(by=Principal.system("migrate"))


class EscalationConfig(AppConfig):
    name = "flotilla.escalation"
    label = "escalation"

    def ready(self) -> None:
        # Levels are recomputed when figures arrive, without reporting knowing of this app:
        # the receiver queues the job inside the report's transaction.
        from flotilla.escalation import actions
        from flotilla.reporting import events

        events.report_recorded.connect(
            actions.after_report, dispatch_uid="escalation.after_report", weak=False
        )
        post_migrate.connect(_register_profiles, sender=self)
