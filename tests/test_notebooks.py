"""The committed notebooks are what a top-to-bottom run produced, and are tagged for nbval.

nbval re-runs them (``make test``); these checks catch a notebook that was edited
and saved without being re-executed, or that never had its outputs stored.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom(path):
    counts = [cell["execution_count"] for cell in code_cells(path)]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts} are not 1..n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_errors(path):
    for cell in code_cells(path):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name}: stored error {output.get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_tags(path):
    cells = code_cells(path)
    assert any("nbval-check-output" in tags(c) for c in cells), f"{path.name}: no cell checks its output"
    for cell in cells:
        source = "".join(cell["source"])
        if "widgets." in source and "import" not in source:
            assert "nbval-ignore-output" in tags(cell), f"{path.name}: widget cell without nbval-ignore-output"
        if "nbval-check-output" in tags(cell):
            assert cell["outputs"], f"{path.name}: a checked cell has no stored output"
