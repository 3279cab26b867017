"""nbval's comparison applied to outputs saved elsewhere: what it accepts and what it refuses (no browser needed)."""

import copy
import json
from pathlib import Path

from nbval_compare import NbvalComparison

LESSON = Path(__file__).resolve().parents[2] / "notebooks" / "00_start_here.ipynb"


def _cells(notebook, tag):
    return [i for i, c in enumerate(notebook["cells"]) if tag in c.get("metadata", {}).get("tags", [])]


def _first_stream(notebook, indices):
    for index in indices:
        for output in notebook["cells"][index]["outputs"]:
            if output["output_type"] == "stream":
                return index, output
    raise AssertionError("no checked cell prints anything")


def test_a_lesson_agrees_with_itself():
    committed = json.loads(LESSON.read_text())
    assert _cells(committed, "nbval-check-output")
    assert NbvalComparison().differences(LESSON.read_text(), committed) == []


def test_a_changed_printed_value_in_a_checked_cell_is_refused_and_named():
    committed = json.loads(LESSON.read_text())
    saved = copy.deepcopy(committed)
    index, output = _first_stream(saved, _cells(saved, "nbval-check-output"))
    output["text"] = "".join(output["text"]) + "one more line\n"
    differences = NbvalComparison().differences(committed, saved)
    assert len(differences) == 1 and differences[0].startswith(f"cell {index} outputs differ")
    assert "one more line" in differences[0]


def test_sanitized_timings_and_unchecked_cells_do_not_count():
    committed = json.loads(LESSON.read_text())
    index, output = _first_stream(committed, _cells(committed, "nbval-check-output"))
    output["text"] = "took 12.5 s\n"
    saved = copy.deepcopy(committed)
    saved["cells"][index]["outputs"] = [dict(output, text="took 3 s\n")]
    unchecked = next(i for i, c in enumerate(saved["cells"]) if c["cell_type"] == "code"
                     and "nbval-check-output" not in c.get("metadata", {}).get("tags", []))
    saved["cells"][unchecked]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "anything\n"}]
    assert NbvalComparison().differences(committed, saved) == []


def test_a_missing_output_or_a_different_cell_count_is_refused():
    committed = json.loads(LESSON.read_text())
    saved = copy.deepcopy(committed)
    index, _ = _first_stream(saved, _cells(saved, "nbval-check-output"))
    saved["cells"][index]["outputs"] = []
    assert NbvalComparison().differences(committed, saved)[0].startswith(f"cell {index} outputs differ")
    saved = copy.deepcopy(committed)
    saved["cells"].pop()
    assert NbvalComparison().differences(committed, saved) == [
        f"the saved notebook has {len(committed['cells']) - 1} cells, the committed one {len(committed['cells'])}"]
