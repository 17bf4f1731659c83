from django.apps import AppConfig


class AuthzConfig(AppConfig):
    name = "flotilla.authz"
    label = "authz"
