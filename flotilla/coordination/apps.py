from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    name = "flotilla.coordination"
    label = "coordination"
