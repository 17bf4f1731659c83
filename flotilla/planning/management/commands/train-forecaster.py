"""``flotilla train-forecaster``: train the gradient-boosted forecaster on published winter
sitreps and put it to use, or calibrate the model in use again from a newer published file
(ADR 0026)."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.principals import Principal
from flotilla.planning import actions, published
from flotilla.planning.core import gbm
from flotilla.planning.models import ForecastCalibration


class Command(BaseCommand):
    help = (
        "Train the forecaster on published winter sitreps (--train) and calibrate it on the "
        "newest published one (--calibrate); with --calibrate alone, calibrate the model in "
        "use again. The newest calibration is the forecaster the forecast job uses."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--train", nargs="+", type=Path, default=[], help="published sitrep CSVs to learn from"
        )
        parser.add_argument(
            "--calibrate",
            required=True,
            type=Path,
            help="the newest published sitrep CSV: the widening of the intervals is worked "
            "out from its last weeks",
        )
        parser.add_argument(
            "--trees", type=int, default=gbm.Settings().trees, help="trees per quantile level"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        by = Principal.system("train-forecaster")
        if not 10 <= opts["trees"] <= 2000:
            raise CommandError("--trees must be between 10 and 2000")
        try:
            calibrate = published.read_sitrep(opts["calibrate"])
            train = [published.read_sitrep(p) for p in opts["train"]]
        except published.PublishedFileError as exc:
            raise CommandError(str(exc)) from None
        if any(p.path.resolve() == calibrate.path.resolve() for p in train):
            raise CommandError(
                f"{calibrate.path.name} is among the files it learns from: calibrating on it "
                "would make the intervals too narrow; give a file published after them"
            )
        started = time.perf_counter()
        if train:
            settings = gbm.Settings(trees=opts["trees"])
            stored = actions.train_forecaster(by=by, files=train, settings=settings)
            self.stdout.write(
                f"model {stored.pk}: learnt from {', '.join(p.path.name for p in train)} "
                f"(days {stored.days_from} to {stored.days_to} of the winter) "
                f"in {time.perf_counter() - started:.0f} s"
            )
        else:
            newest = ForecastCalibration.objects.select_related("model").first()
            if newest is None:
                raise CommandError(
                    "no model is trained yet: give the files to learn from (--train)"
                )
            stored = newest.model
        calibration = actions.calibrate_forecaster(by=by, model=stored, file=calibrate)
        w = calibration.widening
        self.stdout.write(
            f"calibration {calibration.pk}: model {stored.pk} calibrated on "
            f"{calibrate.path.name} (through {calibration.through}); 95% intervals widened by "
            f"{w[0][0]:.3f} / {w[6][0]:.3f} / {w[13][0]:.3f} (log) at 1 / 7 / 14 days; in use"
        )
