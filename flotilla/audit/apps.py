from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_chain_heads(sender, using="default", **kwargs):
    # Every migrated database (including a test database, and after a test flush) has a head
    # for each chain whose table exists; a missing one is created at the chain's last event.
    from django.db import connections

    from flotilla.audit.models import ChainHead, chained_models

    tables = connections[using].introspection.table_names()
    if ChainHead._meta.db_table not in tables:
        return
    for name, model in chained_models().items():
        if model._meta.db_table in tables:
            ChainHead.ensure(name, model.last_link)


class AuditConfig(AppConfig):
    name = "flotilla.audit"
    label = "audit"

    def ready(self):
        post_migrate.connect(_ensure_chain_heads, sender=self)
