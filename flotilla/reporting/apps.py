from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_catalogue(sender, using="default", **kwargs):
    # The catalogue is data the code relies on; every migrated database (including a test
    # database, and after a test flush) gets it. Loading is idempotent.
    from django.db import connections

    from flotilla.audit.principals import Principal
    from flotilla.reporting.actions import load_catalogue
    from flotilla.reporting.models import Measure

    # A migration to an earlier point (`migrate sharing 0001`) may leave reporting unbuilt.
    if Measure._meta.db_table not in connections[using].introspection.table_names():
        return
    load_catalogue(by=Principal.system("migrate"))


class ReportingConfig(AppConfig):
    name = "flotilla.reporting"
    label = "reporting"

    def ready(self):
        post_migrate.connect(_load_catalogue, sender=self)
