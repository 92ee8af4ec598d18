"""The layout holds: one package per feature with the same face, no import circles, no function-level
imports of the project's own modules without a reason, small modules, and a README that maps it."""

import ast
import re

import grimp

from annotations.features import FEATURES
from tests.conftest import ROOT

MAX_PY_LINES = 420
MAX_JS_LINES = 420


def own_python_files():
    for path in sorted((ROOT / "annotations").rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def test_every_feature_package_has_the_same_face():
    for feature in FEATURES:
        package = ROOT / "annotations" / feature
        for name in ("api.py", "views.py", "urls.py"):
            assert (package / name).is_file(), f"annotations/{feature}/{name} is missing"
        urls = (package / "urls.py").read_text()
        assert "urlpatterns = [" in urls and "api_urlpatterns = [" in urls, feature


def test_the_url_modules_of_the_app_hold_include_lines_only():
    for name in ("urls.py", "api_urls.py"):
        tree = ast.parse((ROOT / "annotations" / name).read_text())
        views = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.endswith(("_view", "_page"))]
        assert not views and "include(" in (ROOT / "annotations" / name).read_text()


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the import circles (components of more than one module)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_there_are_no_import_circles_between_the_apps_modules():
    g = grimp.build_graph("annotations", "mlcore")
    graph = {m: {i for i in g.find_modules_directly_imported_by(m)} for m in g.modules
             if ".migrations" not in m}
    # A package's __init__ is imported by every submodule's import: only real module edges count.
    graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}
    assert strongly_connected(graph) == []


def test_own_modules_are_imported_at_module_level_unless_a_comment_says_why():
    offenders = []
    for path in own_python_files():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] in ("annotations",
                                                                                                 "webapp"):
                    line = lines[inner.lineno - 1]
                    above = lines[inner.lineno - 2] if inner.lineno > 1 else ""
                    if "#" not in line and not above.strip().startswith("#"):
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert offenders == []


def test_modules_stay_small():
    big = [f"{p.relative_to(ROOT)} ({n})" for p in own_python_files()
           if (n := len(p.read_text().splitlines())) > MAX_PY_LINES]
    big += [f"{p.relative_to(ROOT)} ({n})" for p in sorted((ROOT / "static" / "annotations").rglob("*.js"))
            if (n := len(p.read_text().splitlines())) > MAX_JS_LINES]
    assert big == []


def test_every_package_the_readme_layout_names_exists():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 5)] if "\n## " in layout[5:] else layout
    # The tree under "annotations/": one line per package, indented under it, "name/" first.
    tree = layout[layout.index("    annotations/\n"):].split("\n    mlcore/")[0]
    named = set(re.findall(r"^      ([a-z_]+)/ ", tree, re.M))
    assert {"core", "datasets", "review", "models"} <= named
    for name in named:
        assert (ROOT / "annotations" / name).is_dir(), f"README names annotations/{name}/, which does not exist"
    assert set(FEATURES) <= named, "README's Layout does not describe every feature package"
