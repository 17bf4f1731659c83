from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "flotilla.alerts"
    label = "alerts"
