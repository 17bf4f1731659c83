"""Nothing the pages load points outside the platform: it must work with no internet."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "flotilla"
REMOTE = re.compile(r"""(?:url\(|src=|href=)["']?(?:https?:)?//""")


def test_no_stylesheet_script_or_template_loads_anything_from_another_server():
    offenders = []
    for path in ROOT.rglob("*"):
        if path.suffix in {".css", ".js", ".jinja", ".html"} and REMOTE.search(
            path.read_text(errors="ignore")
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_the_nhs_font_is_replaced_by_the_system_font():
    css = (ROOT / "static/vendor/nhsuk/nhsuk-frontend.min.css").read_text()
    assert "@font-face" not in css
    assert "font-family:arial,sans-serif" in css
