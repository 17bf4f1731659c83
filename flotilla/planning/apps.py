from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "flotilla.planning"
    label = "planning"

    def ready(self) -> None:
        # Forecasts are made again when figures arrive, without reporting knowing of this
        # app: the receiver queues the job inside the report's transaction.
        from flotilla.planning import actions
        from flotilla.reporting import events

        events.report_recorded.connect(
            actions.after_report, dispatch_uid="planning.after_report", weak=False
        )
