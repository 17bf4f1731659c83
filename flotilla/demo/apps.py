from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "flotilla.demo"
    label = "demo"
