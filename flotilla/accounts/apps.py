from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flotilla.accounts"
    label = "accounts"
