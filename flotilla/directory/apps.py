from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "flotilla.directory"
    label = "directory"
