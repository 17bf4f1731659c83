"""Emails to people getting in, sent only once the change they announce has committed."""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

log = logging.getLogger(__name__)


def send_on_commit(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Send a plain-text email after the surrounding transaction commits (never if it rolls back).

    A mail server that is down must not undo or hide the change: the failure is logged, and
    every link emailed is also shown on screen to whoever made it.
    """
    body = render_to_string(template, context)

    def send() -> None:
        try:
            send_mail(subject, body, None, [to])
        except Exception:
            log.exception("could not send %r to %s", subject, to)

    transaction.on_commit(send)
