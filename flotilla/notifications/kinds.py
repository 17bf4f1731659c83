"""The kinds of event an organisation's webhooks can subscribe to.

A caller of `notify` that concerns an organisation names one of these. Adding a kind here is
what makes it offered on the webhooks page; `notify` refuses a kind that is not listed, so that
no event is silently impossible to subscribe to.
"""

from __future__ import annotations

import re

#: Kind -> the sentence shown next to its box on the webhooks page.
EVENT_KINDS: dict[str, str] = {
    "collaborative.member_joined": "An organisation joined one of your collaboratives",
    "collaborative.member_left": "An organisation left one of your collaboratives",
    "report.overdue": "Your organisation's report is overdue",
}

#: Sent by "Send a test event" to one webhook, whatever it subscribes to; never by `notify`.
TEST_KIND = "webhook.test"

#: What a kind looks like: lower-case dotted words.
KIND_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
