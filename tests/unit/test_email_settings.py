"""Email goes to the console unless an SMTP server is configured in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SHOW = (
    "import json; from flotilla import settings as s; print(json.dumps({k: getattr(s, k, None) "
    "for k in ['EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', 'DEFAULT_FROM_EMAIL', 'INVITATION_DAYS']}))"
)


def settings_with(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOTILLA_EMAIL")}
    out = subprocess.run(
        [sys.executable, "-c", SHOW],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_without_a_mail_server_emails_are_printed_to_the_console():
    s = settings_with()
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert s["INVITATION_DAYS"] == 7


def test_a_configured_mail_server_is_used_over_smtp():
    s = settings_with(
        FLOTILLA_EMAIL_HOST="smtp.example.nhs.uk",
        FLOTILLA_EMAIL_PORT="25",
        FLOTILLA_EMAIL_USER="flotilla",
        FLOTILLA_EMAIL_PASSWORD="secret",
        FLOTILLA_EMAIL_USE_TLS="0",
        FLOTILLA_FROM_EMAIL="Flotilla <flotilla@example.nhs.uk>",
        FLOTILLA_INVITATION_DAYS="3",
    )
    assert s == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.nhs.uk",
        "EMAIL_PORT": 25,
        "EMAIL_HOST_USER": "flotilla",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": False,
        "DEFAULT_FROM_EMAIL": "Flotilla <flotilla@example.nhs.uk>",
        "INVITATION_DAYS": 3,
    }
