"""The layer check fails on each kind of wrong-way import, and passes on the code as it is."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


check_layers = _checker()


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"flotilla/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(tmp_path).parents:
            init = tmp_path / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")
        path.write_text(text)
    return tmp_path


def test_the_code_as_it_is_passes():
    assert check_layers.check(ROOT) == []


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        (
            "flotilla/organisations/actions.py",
            "from flotilla.sharing import actions\n",
            "organisations is below sharing",
        ),
        (
            "flotilla/collaboratives/queries.py",
            "from flotilla.sharing.policy import engine\n",
            "collaboratives is below sharing",
        ),
        (
            "flotilla/collaboratives/views.py",
            "from flotilla.accounts.views import people\n",
            "is accounts's interface",
        ),
        (
            "flotilla/picture/queries.py",
            "from flotilla.reporting.models import Observation\n",
            "only reporting and the sharing policy import Observation",
        ),
        (
            "flotilla/sharing/models.py",
            "from flotilla.sharing import actions\n",
            "models import no actions",
        ),
        (
            "flotilla/reporting/queries.py",
            "from . import actions\n",
            "read modules never import actions",
        ),
        (
            "flotilla/reporting/actions.py",
            "from flotilla.reporting import views\n",
            "imports its own app's interface",
        ),
        (
            "flotilla/planning/core/static.py",
            "from django.db import models\n",
            "the planning core imports nothing of Django",
        ),
        (
            "flotilla/planning/core/io.py",
            "from flotilla.reporting import queries\n",
            "the planning core imports nothing of the rest",
        ),
        (
            "flotilla/csvsafe.py",
            "import flotilla.audit.models\n",
            "foundation modules import no app",
        ),
        ("flotilla/audit/chain.py", "from flotilla import urls\n", "only the shell may import"),
    ],
)
def test_a_wrong_way_import_is_named_with_its_file_line_and_reason(tmp_path, name, text, why):
    root = tree(tmp_path, {name: "import os\n" + text})
    [line] = check_layers.check(root)
    assert line.startswith(f"{name}:2: ")
    assert why in line


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("flotilla/sharing/policy/engine.py", "from flotilla.reporting.models import Series\n"),
        ("flotilla/picture/views.py", "from flotilla.collaboratives import actions\n"),
        ("flotilla/picture/views.py", "from flotilla.accounts import actions\n"),
        ("flotilla/reporting/api.py", "from flotilla.authz.api_auth import TokenAuth\n"),
        ("flotilla/collaboratives/actions.py", "from flotilla.notifications import actions\n"),
        ("flotilla/urls.py", "from flotilla.accounts import views\n"),
        ("flotilla/planning/core/io.py", "from flotilla import csvsafe\n"),
    ],
)
def test_imports_that_go_the_right_way_pass(tmp_path, name, text):
    assert check_layers.check(tree(tmp_path, {name: text})) == []


def test_the_command_exits_non_zero_on_a_wrong_way_import(tmp_path, capsys):
    root = tree(tmp_path, {"flotilla/audit/actions.py": "from flotilla.sharing import actions\n"})
    assert check_layers.main(["check_layers", str(root)]) == 1
    assert "1 wrong-way import(s)" in capsys.readouterr().out
    assert check_layers.main(["check_layers", str(ROOT)]) == 0
