"""Check that imports between Flotilla's modules only go the ways docs/architecture.md draws.

    python scripts/check_layers.py [ROOT]      # exit 1 and one line per wrong-way import

Run by `make lint` and `make test`. The rules, in the order they are checked:

1. **Apps are stacked.** Each app's domain modules (everything but its pages and API) import
   only apps below it in `APPS`, the foundation modules, and their own app. So organisations
   knows nothing of collaboratives, and collaboratives nothing of sharing.
2. **Pages sit on top.** An app's interface modules (`INTERFACE`: views, API, forms, URLs,
   commands) may use any app's domain modules, but not another app's interface modules
   (shared interface helpers in `SHARED_INTERFACE` excepted). The project shell (`SHELL`)
   puts the pages together and may import anything.
3. **Inside an app, models are the floor.** A `models` module imports no actions, read
   modules or interface; read modules (`READS`) never import actions.
4. **Observations are private to the store.** Only the reporting app and the sharing policy
   import `Observation`, `Series` or `Submission`: everyone else reads values through the
   policy.
5. **The planning core is plain Python**: `flotilla.planning.core` imports nothing of the
   rest of Flotilla but the foundation, and nothing of Django; nor does the escalation
   scoring engine, `flotilla.opel` (a foundation package).

Tests, benchmarks and scripts are not checked: they may reach anywhere.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

#: The apps, bottom first. An app's domain imports only apps to its left.
APPS = (
    "audit",
    "jobs",
    "organisations",
    "notifications",
    "authz",
    "collaboratives",
    "reporting",
    "sharing",
    "directory",
    "escalation",
    "picture",
    "exchange",
    "accounts",
    "planning",
    "alerts",
    "coordination",
    "interop",
    "demo",
)

#: Plain helpers below every app (no models, no app imports).
FOUNDATION = (
    "flotilla.formatting",
    "flotilla.csvsafe",
    "flotilla.catalogue",
    "flotilla.opel",
    "flotilla.heap",
    "flotilla.sql",
)

#: The project shell: settings, root URLs, the API root, the home page, the command line, the
#: WSGI entry point and the gunicorn worker class (serving).
SHELL = (
    "flotilla.settings",
    "flotilla.urls",
    "flotilla.api",
    "flotilla.views",
    "flotilla.cli",
    "flotilla.wsgi",
    "flotilla.jinja2",
    "flotilla.errors",
    "flotilla.middleware",
    "flotilla.serving",
)

#: Module names (first part below the app) that face the outside world.
INTERFACE = frozenset({"views", "api", "urls", "forms", "admin", "management"})

#: Interface helpers every app's pages or API may share.
SHARED_INTERFACE = ("flotilla.authz.api_auth",)

#: Read modules: they answer questions and never write.
READS = frozenset(
    {
        "queries",
        "policy",
        "rules",
        "engine",
        "matching",
        "reciprocity",
        "balancing",
        "maps",
        "brief",
        "replay",
    }
)

#: The observation store's models, and who may import them.
STORE_MODELS = frozenset({"Observation", "Series", "Submission"})
STORE_READERS = ("flotilla.reporting", "flotilla.sharing.policy")

PLANNING_CORE = "flotilla.planning.core"

#: Plain Python packages: they import nothing of Django.
PLAIN = (PLANNING_CORE, "flotilla.opel")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    names: tuple[str, ...]
    path: Path
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import of a `flotilla` module in one file, absolute or relative."""
    me = module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(me, alias.name, (), path, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = tuple(a.name for a in node.names)
            # "from flotilla.x import y" may import the module flotilla.x.y
            found.append(Import(me, base, names, path, node.lineno))
    keep = ("flotilla", "django") if within(me, PLAIN) else ("flotilla",)
    return [i for i in found if i.imported.split(".")[0] in keep]


def app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in APPS else None


def part_of(module: str) -> str:
    """The first part of a module below its app ("views", "models", "policy", ...)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else ""


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def targets(imp: Import) -> list[str]:
    """The modules an import reaches: `from flotilla.x import views` reaches flotilla.x.views."""
    if not imp.names:
        return [imp.imported]
    if imp.imported == "flotilla" or (app_of(imp.imported) and imp.imported.count(".") == 1):
        return [f"{imp.imported}.{n}" for n in imp.names]
    return [imp.imported]


def problems_with(imp: Import, target: str) -> list[str]:
    src, dst = imp.importer, target
    src_app, dst_app = app_of(src), app_of(dst)
    out = []
    if (within(src, SHELL) or src == "flotilla") and not src_app:
        return out
    if dst.split(".")[0] == "django":
        what = "the planning core" if within(src, (PLANNING_CORE,)) else src
        return [f"{what} imports nothing of Django"]
    if within(src, (PLANNING_CORE,)):
        if not within(dst, (PLANNING_CORE, *FOUNDATION)):
            out.append("the planning core imports nothing of the rest of Flotilla")
        return out
    if within(dst, SHELL):
        out.append("only the shell may import the shell")
        return out
    if src_app is None:
        if not within(src, FOUNDATION):
            return out
        if not within(dst, FOUNDATION):
            out.append("foundation modules import no app")
        return out
    if dst_app is None:
        return out
    src_if, dst_if = part_of(src) in INTERFACE, part_of(dst) in INTERFACE
    # 4. the store's models
    store = STORE_MODELS & set(imp.names) if dst == "flotilla.reporting.models" else set()
    if store and not within(src, STORE_READERS):
        names = ", ".join(sorted(store))
        out.append(f"only reporting and the sharing policy import {names}")
    if dst_app != src_app:
        if dst_if and not within(dst, SHARED_INTERFACE):
            out.append(f"{dst} is {dst_app}'s interface: use its domain modules")
        elif not src_if and APPS.index(dst_app) > APPS.index(src_app):
            out.append(f"{src_app} is below {dst_app}: lower apps never import higher ones")
    else:
        if dst_if and not src_if:
            out.append("a domain module imports its own app's interface")
    # 3. inside the domain
    if part_of(src) == "models" and (part_of(dst) in READS | INTERFACE | {"actions"}):
        out.append("models import no actions, queries or interface")
    if part_of(src) in READS and part_of(dst) == "actions":
        out.append("read modules never import actions")
    return out


def check(root: Path) -> list[str]:
    """One line per wrong-way import under `root` (the directory holding `flotilla/`)."""
    lines = []
    for path in sorted((root / "flotilla").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for imp in imports_of(root, path):
            for target in targets(imp):
                for why in problems_with(imp, target):
                    where = path.relative_to(root)
                    lines.append(f"{where}:{imp.line}: {imp.importer} imports {target}: {why}")
    return lines


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    lines = check(root)
    for line in lines:
        print(line)
    if lines:
        print(f"{len(lines)} wrong-way import(s): see docs/architecture.md, 'Layers'.")
        return 1
    print("Layers: every import goes the right way.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
