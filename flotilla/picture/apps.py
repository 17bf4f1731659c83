from django.apps import AppConfig


class PictureConfig(AppConfig):
    name = "flotilla.picture"
    label = "picture"
