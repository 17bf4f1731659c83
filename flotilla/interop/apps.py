from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "flotilla.interop"
    label = "interop"
