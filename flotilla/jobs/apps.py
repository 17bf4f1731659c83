from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "flotilla.jobs"
    label = "jobs"

    def ready(self) -> None:
        # The retry rule runs wherever a task finishes (our worker, `db_worker`, a test's
        # worker), so it hangs on django-tasks' own signal rather than on one worker class.
        from django_tasks.signals import task_finished

        from flotilla.jobs.retry import after_attempt

        task_finished.connect(after_attempt, dispatch_uid="flotilla.jobs.retry")
