"""What makes an on-call entry valid: plain functions, no database, so that the action, the
form and the API give the same words (tested on their own in tests/unit/directory).

Each check answers field → message, in the words the page shows beside the box.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

#: The longest each text may be.
LIMITS = {"role": 200, "name": 200, "contact": 200, "hours": 100, "notes": 1000}
#: The highest place in a list (a typo guard: lists are a few dozen long).
MAX_POSITION = 9999
ROUTES = ("phone", "bleep", "email", "radio", "other")

#: A phone number: digits with spaces, brackets, hyphens and one leading +, then perhaps an
#: extension ("ext 5678", "ext. 5678", "x5678").
_PHONE = re.compile(r"(?P<number>\+?[0-9 ()\-]+?)\s*(?:(?:ext\.?|x)\s*(?P<ext>[0-9]{1,6}))?", re.I)
#: A bleep (pager) number: digits, perhaps after a # and with spaces.
_BLEEP = re.compile(r"#?\s*[0-9][0-9 ]*")
PHONE_DIGITS = (3, 15)
BLEEP_DIGITS = (2, 10)

PHONE_HELP = "like 0113 243 3144, +44 113 243 3144 or 0113 243 3144 ext 5678"
MESSAGES = {
    "role": "Enter the role on call, like Site manager on call",
    "route": "Choose how to reach them: phone, bleep, email, radio or other",
    "contact": "Enter the number, bleep, address or channel to use",
    "hours": "Enter when they can be reached, like 24/7 or 08:00–20:00 weekdays",
    "phone": f"Enter a phone number of {PHONE_DIGITS[0]} to {PHONE_DIGITS[1]} digits, {PHONE_HELP}",
    "bleep": f"Enter the bleep number in digits ({BLEEP_DIGITS[0]} to {BLEEP_DIGITS[1]}), "
    "like 1234",
    "email": "Enter an email address in the correct format, like oncall@example.nhs.uk",
    "position": f"Enter the place in the list as a whole number from 0 to {MAX_POSITION}",
}
WORDS = {
    "role": "The role",
    "name": "The name",
    "contact": "The contact",
    "hours": "The hours",
    "notes": "The notes",
}


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def phone_parts(text: str) -> tuple[str, str] | None:
    """(number, extension) of a phone number as written, or None if it is not one."""
    m = _PHONE.fullmatch(text.strip())
    if m is None:
        return None
    number = m["number"].strip()
    if not PHONE_DIGITS[0] <= _digits(number) <= PHONE_DIGITS[1]:
        return None
    return number, m["ext"] or ""


def dial(text: str) -> str:
    """A phone number as a tel: link dials it (digits and a leading +; an extension as a
    pause, as phones read it), or "" if it is not a phone number."""
    parts = phone_parts(text)
    if parts is None:
        return ""
    number, ext = parts
    if number.startswith("+"):
        number = number.replace("(0)", "")  # +44 (0)113: the 0 is dialled only from inside
    dialled = "".join(c for c in number if c.isdigit() or c == "+")
    return f"{dialled},{ext}" if ext else dialled


def contact_problem(route: str, contact: str) -> str | None:
    """What is wrong with a contact for its route, or None. Radio and other take any text."""
    if route == "phone" and phone_parts(contact) is None:
        return MESSAGES["phone"]
    if route == "bleep" and not (
        _BLEEP.fullmatch(contact) and BLEEP_DIGITS[0] <= _digits(contact) <= BLEEP_DIGITS[1]
    ):
        return MESSAGES["bleep"]
    if route == "email":
        try:
            EmailValidator()(contact)
        except ValidationError:
            return MESSAGES["email"]
    return None


def cleaned(values: dict[str, Any]) -> dict[str, Any]:
    """The texts stripped of surrounding white space (None as empty); the rest as given."""
    return {k: (v or "").strip() if k in LIMITS or k == "route" else v for k, v in values.items()}


def check(values: dict[str, Any]) -> dict[str, str]:
    """Field → what is wrong, for the fields given (all of an entry's, or those changing),
    already `cleaned`. Empty: nothing is."""
    errors: dict[str, str] = {}
    for name in ("role", "contact", "hours"):
        if name in values and not values[name]:
            errors[name] = MESSAGES[name]
    for name, limit in LIMITS.items():
        text = values.get(name) or ""
        if "\x00" in text:
            errors[name] = f"{WORDS[name]} must not contain NUL characters"
        elif len(text) > limit:
            errors[name] = f"{WORDS[name]} must be {limit} characters or fewer"
    if "route" in values and values["route"] not in ROUTES:
        errors["route"] = MESSAGES["route"]
    elif "contact" not in errors and values.get("contact"):
        problem = contact_problem(values.get("route", ""), values["contact"])
        if problem:
            errors["contact"] = problem
    if "position" in values and values["position"] is not None:
        p = values["position"]
        if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p <= MAX_POSITION:
            errors["position"] = MESSAGES["position"]
    return errors
