from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "flotilla.notifications"
    label = "notifications"
