"""The inbox stays low in the layers: Django, the audit log and itself, nothing of ours above."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "flotilla" / "notifications"
ALLOWED = ("flotilla.audit", "flotilla.notifications")


def test_the_notifications_app_imports_nothing_of_ours_but_the_audit_log():
    offenders = []
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("flotilla") and not name.startswith(ALLOWED):
                    offenders.append(f"{path.relative_to(APP)}: {name}")
    assert not offenders, offenders
