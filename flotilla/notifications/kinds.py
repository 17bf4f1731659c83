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
    "collaborative.surge_on": "One of your collaboratives went into surge",
    "collaborative.surge_off": "One of your collaboratives came out of surge",
    "report.overdue": "Your organisation's report is overdue",
    "aid.request": "A request for help now reaches your organisation",
    "aid.offer": "An offer of help: for your request, or open to your organisation",
    "aid.commitment": "Part of your organisation's offer was taken up",
    "aid.changed": "Aid your organisation asked for or gave changed state",
    "aid.expired": "An offer or request your organisation is part of expired",
    "aid.drafted": "A plan recommends aid for your organisation to raise or dismiss",
    "coordination.escalated": "An item of a collaborative's log was escalated to you",
    "coordination.minutes": "The minutes of a collaborative's daily call were sent",
    "coordination.nudge": "An action you own in a collaborative's log is due",
}

#: Sent by "Send a test event" to one webhook, whatever it subscribes to; never by `notify`.
TEST_KIND = "webhook.test"

#: What a kind looks like: lower-case dotted words.
KIND_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
