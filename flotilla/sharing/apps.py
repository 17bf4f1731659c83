from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "flotilla.sharing"
    label = "sharing"
