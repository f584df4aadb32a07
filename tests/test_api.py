"""Structure: public names are documented; imports flow one way (DESIGN.md layering)."""

import ast
import inspect
from pathlib import Path

import pytest

import planner as pl

PKG = Path(pl.__file__).parent
# lower number = lower layer; a module may import only from layers below or equal to its own
LAYER = {
    "errors": 0, "_validate": 1, "datums": 1, "kinds": 2, "inputs": 3, "demand": 3, "study": 4, "network": 5,
    "coverage": 6, "access": 7, "siting": 7, "targets": 8, "_escape": 1, "maps": 9,
    "outputs": 9, "scale": 10, "scale_siting": 10, "scale_osm": 10, "cli": 11,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("planner.")}
    return found


@pytest.mark.parametrize("path", sorted(PKG.glob("*.py")), ids=lambda p: p.stem)
def test_imports_flow_one_way(path):
    if path.stem == "__init__":
        return
    name = path.stem
    level = LAYER.get(name, LAYER["cli"] if name.startswith("_cli") else None)
    assert level is not None, f"add {name} to LAYER in tests/test_api.py"
    for imported in _imports(path):
        if imported.startswith("_cli"):
            continue
        assert LAYER.get(imported, 99) <= level, f"{name} (layer {level}) imports {imported}"


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

    cov = pl.compute_coverage(lattice, points([[0, 0]], population=[1.0]), points([[0, 0]], kind=["n"]),
                              kinds={"n": pl.FacilityKind("n", "population")})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cov.kinds = {}
    with pytest.raises(TypeError):
        cov.params["max_snap_m"] = 1
    assert "Coverage(cells=1" in repr(cov)
