from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "flotilla.registry"
    label = "registry"
