from django.core.management.base import BaseCommand, CommandError

from flotilla.demo import loader


class Command(BaseCommand):
    help = "Load the demo collaborative (real published data where present, else synthetic)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing if already loaded")
        parser.add_argument("--data-dir", help="where the published data lives")

    def handle(self, *args, **opts):
        if loader.is_loaded():
            if opts["if_empty"]:
                self.stdout.write("Demo data already loaded.")
                return
            raise CommandError("The demo is already loaded; it can only be loaded once.")
        result = loader.load(data_dir=opts.get("data_dir"))
        if result["kind"] == "synthetic":
            self.stdout.write(
                self.style.WARNING(
                    "Published data not found (set FLOTILLA_DATA_DIR): loaded a synthetic "
                    "collaborative with fictional names and codes instead."
                )
            )
        else:
            self.stdout.write(
                f"Loaded {result['organisations']} trusts from the 2021-22 winter sitrep, "
                f"shifted {result['shifted_days']} days so that the last day is today."
            )
        aid = result["aid"]
        self.stdout.write(
            f"Mutual aid: {aid['requests']} requests, {aid['offers']} offers and "
            f"{aid['commitments']} commitments over the last month, some open now."
        )
        self.stdout.write(
            f"Working together: {result['log_items']} items in the RAID log, today's call under "
            f"way; {result['on_call']} on-call directory entries."
        )
