from datetime import date

from django.urls import path, register_converter

from flotilla.coordination.views import call, exports, replay, team, work


class DayConverter:
    """A day in a path: 2026-12-01."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:  # 2026-02-31 looks like a day but is none
            raise ValueError(value) from exc

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else value


register_converter(DayConverter, "day")

app_name = "coordination"
urlpatterns = [
    path("c/<slug:slug>/work/", work.overview, name="overview"),
    path("c/<slug:slug>/objectives/", work.objectives, name="objectives"),
    path("c/<slug:slug>/objectives/<int:pk>", work.objective, name="objective"),
    path("c/<slug:slug>/workstreams/", work.workstreams, name="workstreams"),
    path("c/<slug:slug>/workstreams/<int:pk>", work.workstream, name="workstream"),
    path("c/<slug:slug>/log/", work.log, name="log"),
    # Notifications link to an item's page: keep this path.
    path("c/<slug:slug>/log/<int:pk>", work.item, name="item"),
    path("c/<slug:slug>/log/<int:pk>/status", work.item_status, name="item_status"),
    path("c/<slug:slug>/log/<int:pk>/escalate", work.item_escalate, name="item_escalate"),
    path("c/<slug:slug>/log/<int:pk>/decide", work.item_decide, name="item_decide"),
    path("c/<slug:slug>/roles", work.roles, name="roles"),
    path("c/<slug:slug>/roles/<int:pk>/end", work.end_role, name="end_role"),
    path("c/<slug:slug>/call/brief", call.brief, name="brief"),
    path("c/<slug:slug>/call/brief.pdf", call.brief_pdf, name="brief_pdf"),
    path("c/<slug:slug>/calls/", call.calls, name="calls"),
    # Minutes notifications link to a call's page: keep this path.
    path("c/<slug:slug>/calls/<day:day>", call.call, name="call"),
    path("c/<slug:slug>/calls/<day:day>/items", call.call_item, name="call_item"),
    path("c/<slug:slug>/calls/<day:day>/send", call.send_minutes, name="send_minutes"),
    # The dedicated team: asked against allocated, week by week.
    path("c/<slug:slug>/team", team.team, name="team"),
    path("c/<slug:slug>/team/ask", team.team_ask, name="team_ask"),
    path("c/<slug:slug>/team/allocate", team.team_allocate, name="team_allocate"),
    path("c/<slug:slug>/team/move", team.team_move, name="team_move"),
    # Downloads (CSV), for the members, as the pages show things to the reader.
    path("c/<slug:slug>/objectives.csv", exports.objectives_csv, name="objectives_csv"),
    path("c/<slug:slug>/log.csv", exports.log_csv, name="log_csv"),
    path("c/<slug:slug>/decisions.csv", exports.decisions_csv, name="decisions_csv"),
    path("c/<slug:slug>/calls/<day:day>/minutes.csv", exports.minutes_csv, name="minutes_csv"),
    # The after-action replay: a past period, step by step.
    path("c/<slug:slug>/replay", replay.replay, name="replay"),
]
