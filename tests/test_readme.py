"""The README's Python examples run as written (from the repository root) and say what they claim."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_readme_has_python_examples():
    assert len(python_blocks()) >= 3


@pytest.mark.slow
def test_the_readme_python_runs(tmp_path, monkeypatch):
    """Every ```python block, in order, in one namespace; outputs go to a temporary folder."""
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    for block in python_blocks():
        code = (
            block.replace('"out/las_palmas"', repr(str(tmp_path / "out")))
            .replace('"maps/coverage.html"', repr(str(tmp_path / "coverage.html")))
            .replace('"out/report"', repr(str(tmp_path / "report")))
        )
        exec(compile(code, "README.md", "exec"), namespace)  # the README's own examples
    run, c = namespace["run"], namespace["c"]
    assert round(100 * run.coverage.share("eldercare"), 1) == 50.6
    assert len(run.siting.sites) == 5
    assert (tmp_path / "out" / "run.toml").exists()
    assert (tmp_path / "coverage.html").exists()
    assert {"report.html", "report.xlsx", "service_areas.gpkg"} <= {
        p.name for p in (tmp_path / "report").iterdir()
    }
    meal = c.table[(c.table.kind == "meal_site") & (c.table.minutes == 15)].iloc[0]
    assert meal.share_before == 0 < meal.share_after
    assert list(c.trajectory["year"].unique()) == ["now", 2025, 2026, 2027, 2028]
