from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "flotilla.exchange"
    label = "exchange"
