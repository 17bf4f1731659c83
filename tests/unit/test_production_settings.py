"""The production settings: HTTPS only, a private secret key file, `check --deploy` clean."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The production environment docs/configuration.md describes (besides the database).
PRODUCTION = {
    "FLOTILLA_HTTPS": "1",
    "FLOTILLA_DEBUG": "0",
    "FLOTILLA_SECRET_KEY": "x" * 20 + "a-long-random-production-key-0123456789",
    "FLOTILLA_ALLOWED_HOSTS": "flotilla.example.nhs.uk",
}


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOTILLA_")}
    clean.pop("DATABASE_URL", None)
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests, never deployed
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT, capture_output=True, text=True
    )


def show(name: str, **env: str) -> str:
    out = run(f"from flotilla import settings as s; print(repr(getattr(s, {name!r})))", **env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_generated_secret_key_file_is_readable_by_its_owner_only(tmp_path):
    show("SECRET_KEY", FLOTILLA_VAR_DIR=str(tmp_path))
    key = tmp_path / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text()) >= 50


def test_a_secret_key_file_others_could_read_is_made_private_and_kept(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("an-older-key-kept-across-the-upgrade")
    key.chmod(0o644)
    assert show("SECRET_KEY", FLOTILLA_VAR_DIR=str(tmp_path)) == repr(
        "an-older-key-kept-across-the-upgrade"
    )
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_the_documented_production_settings_pass_djangos_deployment_checks(tmp_path):
    out = run(
        "import sys; from flotilla.cli import main; sys.argv = ['flotilla', 'check', "
        "'--deploy', '--fail-level', 'WARNING']; main()",
        FLOTILLA_VAR_DIR=str(tmp_path),
        **PRODUCTION,
    )
    assert out.returncode == 0, out.stderr
    assert "System check identified no issues" in out.stdout


def test_without_https_only_the_deployment_checks_fail(tmp_path):
    env = {**PRODUCTION, "FLOTILLA_HTTPS": "0"}
    out = run(
        "import sys; from flotilla.cli import main; sys.argv = ['flotilla', 'check', "
        "'--deploy', '--fail-level', 'WARNING']; main()",
        FLOTILLA_VAR_DIR=str(tmp_path),
        **env,
    )
    assert out.returncode != 0
    assert "security.W004" in out.stderr and "security.W008" in out.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SECURE_SSL_REDIRECT", "True"),
        ("SECURE_HSTS_SECONDS", "31536000"),
        ("SESSION_COOKIE_SECURE", "True"),
        ("CSRF_COOKIE_SECURE", "True"),
    ],
)
def test_https_only_redirects_plain_http_and_keeps_cookies_on_https(tmp_path, name, expected):
    assert show(name, FLOTILLA_VAR_DIR=str(tmp_path), **PRODUCTION) == expected
