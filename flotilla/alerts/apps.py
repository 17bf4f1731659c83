from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "flotilla.alerts"
    label = "alerts"

    def ready(self) -> None:
        # Rules are judged as figures, levels and forecasts arrive, without reporting,
        # escalation or planning knowing of this app: the receivers only queue the job
        # (ADR 0013's pattern).
        from flotilla.alerts import actions
        from flotilla.escalation import events as escalation_events
        from flotilla.planning import events as planning_events
        from flotilla.reporting import events as reporting_events

        reporting_events.report_recorded.connect(
            actions.after_report, dispatch_uid="alerts.after_report", weak=False
        )
        escalation_events.levels_computed.connect(
            actions.after_levels, dispatch_uid="alerts.after_levels", weak=False
        )
        planning_events.forecasts_computed.connect(
            actions.after_forecasts, dispatch_uid="alerts.after_forecasts", weak=False
        )
