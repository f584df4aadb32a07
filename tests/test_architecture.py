"""Structure: public names are documented; imports follow docs/architecture.md (every import, no cycle)."""

import ast
import inspect
import re
from pathlib import Path

import pytest

import planner as pl

PKG = Path(pl.__file__).parent
DOC = PKG.parent / "docs" / "architecture.md"


def module_names(pkg: Path) -> dict[str, Path]:
    """Every module of a package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def documented_layers(text: str) -> dict[str, int]:
    """The module table of docs/architecture.md: module → layer."""
    rows = re.findall(r"^\|\s*`([\w.]+)`\s*\|\s*(\d+)\s*\|", text, re.M)
    return {name: int(layer) for name, layer in rows}


def imports(name: str, modules: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import of a module, nested ones too."""
    path = modules[name]
    root = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == root]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            if base.split(".")[0] != root:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in modules else (base, alias.name, node.lineno))
    return found


def owner(target: str, modules: dict[str, Path]) -> str:
    while target not in modules and "." in target:
        target = target.rpartition(".")[0]
    return target


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def violations(modules: dict[str, Path], layers: dict[str, int]) -> list[str]:
    """Every broken rule: undocumented modules, imports up the layers or to the root, private names, cycles."""
    root = min(modules, key=len)
    out = [f"{m} is not in the module table" for m in sorted(set(modules) - set(layers))]
    out += [f"the module table lists {m}, which does not exist" for m in sorted(set(layers) - set(modules))]
    graph: dict[str, set[str]] = {}
    for name in modules:
        for target, taken, line in imports(name, modules):
            module = owner(target, modules)
            if module == name:
                continue
            graph.setdefault(name, set()).add(module)
            if module == root and name != root:
                out.append(f"{name}:{line} imports from the package root")
            elif name in layers and module in layers and layers[module] > layers[name]:
                out.append(
                    f"{name} (layer {layers[name]}) imports {module} (layer {layers[module]}) at line {line}"
                )
            if (
                taken
                and taken.startswith("_")
                and not taken.startswith("__")
                and not module.rpartition(".")[2].startswith("_")
            ):
                out.append(f"{name}:{line} takes the private name {taken} from {module}")
    out += [f"import cycle: {' <-> '.join(c)}" for c in find_cycles(graph)]
    return out


def test_planner_follows_docs_architecture():
    found = violations(module_names(PKG), documented_layers(DOC.read_text(encoding="utf-8")))
    assert not found, "\n".join(found)


def test_the_rules_catch_each_kind_of_break(tmp_path):
    """A made-up package with one break of each rule: every one is reported (so a pass means something)."""
    pkg = tmp_path / "fake"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from fake.top import run\n",
        "low.py": "def helper():\n    from fake.high import thing  # up the layers, inside a function\n",
        "high.py": "from fake.low import _private\nfrom fake._shared import _ok\nthing = 1\n",
        "_shared.py": "_ok = 1\n",
        "sub/__init__.py": "from fake.sub.a import x\n",
        "sub/a.py": "from fake.sub import y\nx = 1\n",  # a submodule importing its own package: a cycle
        "top.py": "from fake import run\n",  # the package root
        "undocumented.py": "",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text, encoding="utf-8")
    layers = {"fake": 9, "fake._shared": 0, "fake.low": 1, "fake.high": 2, "fake.sub": 3, "fake.sub.a": 3,
              "fake.top": 4, "fake.gone": 5}  # fmt: skip
    found = "\n".join(violations(module_names(pkg), layers))
    assert "fake.undocumented is not in the module table" in found
    assert "lists fake.gone, which does not exist" in found
    assert "fake.low (layer 1) imports fake.high (layer 2)" in found
    assert "takes the private name _private from fake.low" in found
    assert "_ok" not in found  # a private name from a private shared module is fine
    assert "import cycle: fake.sub <-> fake.sub.a" in found
    assert "import cycle: fake.high <-> fake.low" in found  # high imports low, low high (in a function)
    assert "fake.top:1 imports from the package root" in found


@pytest.mark.parametrize("name", pl.__all__)
def test_public_names_exist_and_are_documented(name):
    obj = getattr(pl, name)
    if name.startswith("__") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    if inspect.isfunction(obj) and inspect.signature(obj).parameters:
        assert "Parameters" in doc, f"{name} docstring lacks a Parameters section"
        assert "Returns" in doc, f"{name} docstring lacks a Returns section"


def test_results_are_immutable(lattice):
    import dataclasses

    from conftest import points

    cov = pl.compute_coverage(
        lattice,
        points([[0, 0]], population=[1.0]),
        points([[0, 0]], kind=["n"]),
        kinds={"n": pl.FacilityKind("n", "population")},
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        cov.kinds = {}
    with pytest.raises(TypeError):
        cov.params["max_snap_m"] = 1
    assert "Coverage(cells=1" in repr(cov)


def test_old_module_paths_warn_and_forward():
    with pytest.warns(
        DeprecationWarning, match=r"planner.inputs.read_facilities moved to planner.io.facilities"
    ):
        from planner.inputs import read_facilities
    assert read_facilities is pl.read_facilities
    import planner.outputs as old

    with pytest.warns(DeprecationWarning, match="planner.io.write"):
        assert old.write_table is pl.write_table
    with pytest.raises(AttributeError, match="no public name"):
        old._toml_value  # noqa: B018
