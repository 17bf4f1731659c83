from django.conf import settings
from django.core.management.base import BaseCommand

from flotilla.demo import loader


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **opts):
        logins = loader.demo_logins()
        if not logins:
            self.stdout.write("No demo users. Run `flotilla load-demo`.")
            return
        self.stdout.write(f"Demo logins (password for all: {loader.DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<18} {login.role:<20} {login.organisation}")
        if settings.ADMIN_SECOND_FACTOR:
            self.stdout.write(
                "Admins set up an authenticator app (any app that shows 6-digit codes) when "
                "they first sign in; FLOTILLA_ADMIN_SECOND_FACTOR=0 turns that off for a trial "
                "on your own machine."
            )
