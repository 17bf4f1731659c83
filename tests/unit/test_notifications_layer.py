"""Notifications stay low in the layers: Django, the audit log and itself; the organisation model
(by which webhooks belong to an organisation); and, in its views only, the permission checks.
Nothing of sharing, reporting, the picture, accounts or collaboratives."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "flotilla" / "notifications"
ALLOWED = ("flotilla.audit", "flotilla.notifications", "flotilla.registry.models")
#: Pages check who may manage an organisation's webhooks; nothing else needs permissions.
ALLOWED_IN_VIEWS = ("flotilla.authz.checks", "flotilla.authz.permissions")


def test_the_notifications_app_imports_nothing_of_ours_above_it():
    offenders = []
    for path in APP.rglob("*.py"):
        allowed = ALLOWED + (ALLOWED_IN_VIEWS if path.name == "views.py" else ())
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("flotilla") and not name.startswith(allowed):
                    offenders.append(f"{path.relative_to(APP)}: {name}")
    assert not offenders, offenders
