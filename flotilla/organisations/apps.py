from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "flotilla.organisations"
    label = "organisations"
