from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "flotilla.planning"
    label = "planning"
