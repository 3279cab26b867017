"""The lessons as slides (jupyterlab-slideshow in ``make lab``): the structure book/slides.py sets is the one
every lesson carries, every cell is in the deck, and every lesson has a slide with a live figure.

The browser half (the slideshow started in JupyterLab, a slider moved in slide mode) is in
tests/browser/test_lessons_in_browser.py.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import slides  # noqa: E402  (book/ is a folder of scripts, not a package)

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _cell(kind, text):
    return {"cell_type": kind, "id": text[:6].strip() or "x", "metadata": {}, "source": text}


def test_slide_types_follow_the_rules_on_a_small_lesson():
    cells = [_cell("markdown", "# 09 · Title"), _cell("markdown", "What you will learn"),
             _cell("code", "import torch"), _cell("markdown", "A result, then more text."),
             _cell("markdown", "**Predict, then run.** How many?"), _cell("code", "answer()"),
             _cell("code", "figure()"), _cell("markdown", "### A detail"), _cell("markdown", "## 2. Next"),
             _cell("code", "more()"), _cell("code", "box = data()\nwidgets.cam_browser(box)")]
    assert slides.slide_types(cells) == ["slide", None, None, "subslide", "slide", "fragment", None, "subslide",
                                         "slide", None, "subslide"]


def test_headings_and_questions_inside_a_cell_are_split_off_with_the_text_unchanged():
    first = "## 1. Idea\n\nThe idea, with\n$$a\n\n# b$$\nkept, and\n\n```\n\n# code\n```"  # no heading in maths or code
    text = first + "\n\n**Predict, then run.** What?\n\nMore.\n\n### A detail\n\nText.\n\n**Predict, then run.** And?"
    cells = slides.split_cells([_cell("markdown", text), _cell("code", "x = 1\n# a comment")])
    assert ["".join(c["source"]) for c in cells] == [
        first, "**Predict, then run.** What?\n\nMore.",
        "### A detail\n\nText.", "**Predict, then run.** And?", "x = 1\n# a comment"]
    assert len({c["id"] for c in cells}) == 5
    assert "\n\n".join("".join(c["source"]) for c in cells[:4]) == text
    assert slides.slide_types(cells) == ["slide", "slide", "subslide", "slide", "fragment"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_carries_its_slides_and_loses_no_cell(path):
    notebook = json.loads(path.read_text())
    assert slides.with_slides(notebook) == notebook, f"{path.name}: run book/slides.py"
    types = [cell["metadata"].get("slideshow", {}).get("slide_type") for cell in notebook["cells"]]
    assert types[0] == "slide" and types.count("slide") >= 5
    assert not {"-", "skip", "notes"} & set(types), f"{path.name}: a cell the deck would not show"
    questions = [cell for cell in notebook["cells"] if slides.PREDICT in "".join(cell["source"])]
    assert questions and all("".join(cell["source"]).startswith(slides.PREDICT) for cell in questions)
    assert all(kind == "slide" for cell, kind in zip(notebook["cells"], types) if cell in questions)
    state = notebook["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]

    def has_slider(model_id):
        model = state.get(model_id, {"model_name": "", "state": {}})
        return model["model_name"].endswith("SliderModel") or any(
            has_slider(child.replace("IPY_MODEL_", "")) for child in model["state"].get("children", []))

    figures = [cell for cell in notebook["cells"] for output in cell.get("outputs", [])
               if WIDGET in output.get("data", {}) and has_slider(output["data"][WIDGET]["model_id"])]
    assert figures, f"{path.name}: no slide with an interactive figure"
