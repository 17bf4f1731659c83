from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "flotilla.audit"
    label = "audit"
