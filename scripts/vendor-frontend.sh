#!/usr/bin/env bash
# Rebuild flotilla/static/vendor from the npm registry. Run by a developer when upgrading;
# the output is committed so that the platform never fetches anything at run time.
#
# nhsuk-frontend's compiled CSS points its Frutiger font at assets.nhs.uk. We drop those
# @font-face rules so that nothing is fetched and the font stack falls back to the system
# sans-serif (Arial, then sans-serif), and we make image URLs relative to the CSS file.
set -euo pipefail
NHSUK=10.6.1
HTMX=2.0.11
cd "$(dirname "$0")/.."
out=flotilla/static/vendor
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent "nhsuk-frontend@$NHSUK" "htmx.org@$HTMX" >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
dist="$tmp/nhsuk-frontend-$NHSUK/package/dist/nhsuk"
rm -rf "$out/nhsuk" && mkdir -p "$out/nhsuk/assets"
cp -r "$dist/assets/images" "$out/nhsuk/assets/"
cp "$dist/nhsuk-frontend.min.js" "$out/nhsuk/"
python3 - "$dist/nhsuk-frontend.min.css" "$out/nhsuk/nhsuk-frontend.min.css" <<'PY'
import re, sys
css = open(sys.argv[1]).read()
css, n = re.subn(r"@font-face\{[^}]*assets\.nhs\.uk[^}]*\}", "", css)
assert n == 2, f"expected 2 remote @font-face rules, found {n}"
css = css.replace("font-family:Frutiger W01,arial,sans-serif", "font-family:arial,sans-serif")
css = css.replace("url(/assets/", "url(assets/")
assert "https://" not in css and "http://" not in css, "a remote URL is left in the CSS"
open(sys.argv[2], "w").write(css)
PY
cp "$tmp/nhsuk-frontend-$NHSUK/package/LICENSE"* "$out/nhsuk/" 2>/dev/null || true
mkdir -p "$out/htmx"
cp "$tmp/htmx.org-$HTMX/package/dist/htmx.min.js" "$out/htmx/"
cp "$tmp/htmx.org-$HTMX/package/LICENSE" "$out/htmx/" 2>/dev/null || true
printf 'nhsuk-frontend %s\nhtmx.org %s\n' "$NHSUK" "$HTMX" > "$out/VERSIONS"
rm -rf "$tmp"
echo "vendored into $out"
