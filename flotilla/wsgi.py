"""WSGI entry point for gunicorn.

Each gunicorn worker imports this module once. Once Django is set up, the URLs are loaded too
(every view and the API with them, which Django would otherwise load on the first request), so
that the worker class (flotilla.serving) keeps them with the rest of what was loaded at start
out of the garbage collector's later passes (ADR 0044).
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imports every view and the API now)
