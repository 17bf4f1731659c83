"""The after-action replay: a past period, step by step (`coordination.replay`).

A plain GET page: the form's period and step and the step shown are all in the address, so
Previous, Next and each step time are ordinary links and the page works without JavaScript.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode

from flotilla.coordination import replay as replaying
from flotilla.coordination.views._common import here
from flotilla.exchange import lifecycle
from flotilla.picture.queries import table_view, trouble

#: The form's fields, as the address names them, and their labels.
FIELDS = {"from": "From", "to": "To"}


def _field_value(moment: datetime) -> str:
    """A moment as a `datetime-local` field holds it: local time, to the minute."""
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%dT%H:%M" + (":%S" if local.second else ""))


def _parse(raw: str, label: str) -> tuple[datetime | None, str]:
    try:
        parsed = parse_datetime(raw)
    except ValueError:  # well formed but impossible, such as 31 February
        parsed = None
    if parsed is None:
        return None, f"{label}: “{raw}” is not a date and time; use the form 2026-01-05T08:00."
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed, ""


def _default_period(now: datetime) -> tuple[datetime, datetime]:
    """The 24 hours to the start of this hour."""
    end = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


def _step_number(raw: str, count: int) -> tuple[int, str]:
    """The step asked for (`n`, counted from 1) as an index, and a notice when there is no
    such step (the nearest is shown)."""
    if not raw:
        return 0, ""
    try:
        asked = int(raw)
    except ValueError:
        return 0, f"“{raw}” is not a step number; showing the first step."
    if asked < 1:
        return 0, f"There is no step {asked}; showing the first step."
    if asked > count:
        return count - 1, f"There is no step {asked} in this replay; showing the last, {count}."
    return asked - 1, ""


@login_required
def replay(request: HttpRequest, slug: str) -> HttpResponse:
    """Step through a past period: the picture, levels, aid requests and decisions as they
    were at each step, what changed since the step before, and how long help took."""
    h = here(request, slug)
    now = timezone.now()
    raw = {name: request.GET.get(name, "").strip() for name in ("from", "to", "step")}
    bounds = dict(zip(FIELDS, _default_period(now), strict=True))
    errors: dict[str, str] = {}
    for name, label in FIELDS.items():
        if raw[name]:
            parsed, problem = _parse(raw[name], label)
            if parsed is None:
                errors[name] = problem
            else:
                bounds[name] = parsed
    start, end = bounds["from"], bounds["to"]
    context: dict[str, Any] = {
        "h": h,
        "collab": h.collab,
        "steps": [(key, words.capitalize()) for key, (_, words) in replaying.STEPS.items()],
        "duration": replaying.duration,
        "notices": [],
    }
    period = None
    if not errors:
        try:
            period = replaying.period(start, end, raw["step"], now=now)
        except replaying.ReplayError as exc:
            errors = exc.errors
    # The form shows what was asked for (or, when it was read, the period as replayed).
    context["values"] = {
        "from": _field_value(period.start) if period else raw["from"] or _field_value(start),
        "to": _field_value(period.end) if period else raw["to"] or _field_value(end),
        "step": period.step if period and raw["step"] else raw["step"],
    }
    context["errors"] = [
        {"text": text, "anchor": name if name in ("from", "to", "step") else ""}
        for name, text in errors.items()
    ]
    context["field_errors"] = errors
    if period is None:
        return render(request, "coordination/replay.jinja", context)
    if period.notice:
        context["notices"].append(period.notice)
    moments = period.moments()
    index, notice = _step_number(request.GET.get("n", "").strip(), len(moments))
    if notice:
        context["notices"].append(notice)
    page = reverse("coordination:replay", args=[h.collab.slug])
    params = {
        "from": _field_value(period.start),
        "to": _field_value(period.end),
        "step": period.step,
    }

    def step_link(i: int) -> str:
        return f"{page}?{urlencode(params | {'n': i + 1})}"

    frame = replaying.frame(h.viewer, h.collab, period, index)
    view, _ = table_view({})
    dashboard = reverse("picture:dashboard", args=[h.collab.slug])
    at = frame.at.isoformat()
    context |= {
        "period": period,
        "frame": frame,
        "moments": moments,
        "index": index,
        "step_link": step_link,
        "summary": replaying.summary(h.viewer, h.collab, period),
        "state_words": lifecycle.LABELS,
        # What the shared picture table needs, as a decision's page gives it.
        "picture": frame.picture,
        "view": view,
        "levels": frame.levels,
        "trouble": trouble(frame.picture, view),
        "link": lambda more: f"{dashboard}?{urlencode({'at': at} | more)}",
        "expected": {},
        "expected_days": 3,
        "containerClasses": "flotilla-wide",
    }
    return render(request, "coordination/replay.jinja", context)
