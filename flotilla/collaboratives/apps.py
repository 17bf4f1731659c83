from django.apps import AppConfig


class CollaborativesConfig(AppConfig):
    name = "flotilla.collaboratives"
    label = "collaboratives"
