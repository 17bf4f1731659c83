from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "flotilla.escalation"
    label = "escalation"
