"""The lessons' slide structure for JupyterLab's slideshow (jupyterlab-slideshow): ``slideshow.slide_type`` in
each cell's metadata, set by rules so that nothing is written by hand twice.

- A new **slide** at the lesson's title, at every ``##`` section and at every *Predict, then run* question
  (the question is split into its own markdown cell, so the room sees it before the answer).
- A **subslide** at every ``###`` heading and at every other markdown cell that follows a code cell: one
  step of the lesson (its text, its cell, its figure) per screen.
- The first code cell after a question is a **fragment**: it appears on the next key press, so the room
  answers first.
- Every other cell continues the slide above it: it has no ``slide_type`` (jupyterlab-slideshow 0.3.4 never
  shows a cell whose type is ``"-"``, so the key is left out rather than set to it). No cell is skipped.

Run ``.venv/bin/python book/slides.py`` after editing a lesson; ``tests/test_slides.py`` checks that every lesson
carries exactly these types.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREDICT = "**Predict, then run.**"


def _source(cell):
    return "".join(cell["source"])


def split_questions(cells):
    """The cells with every *Predict, then run* paragraph that is not at the start of its markdown cell moved,
    with what follows it in that cell, into a new markdown cell right after it (the text is unchanged)."""
    result = []
    for cell in cells:
        text = _source(cell)
        at = text.find("\n\n" + PREDICT) if cell["cell_type"] == "markdown" else -1
        if at < 0:
            result.append(cell)
            continue
        before = dict(cell, source=text[:at].rstrip("\n"))
        question = {"cell_type": "markdown", "id": f"{cell.get('id', 'cell')}-q", "metadata": {},
                    "source": text[at:].lstrip("\n")}
        result += [before] + split_questions([question])
    return result


def slide_types(cells):
    """``slideshow.slide_type`` of each cell by the rules above, ``None`` where the key is left out."""
    types, previous, after_question = [], None, False
    for index, cell in enumerate(cells):
        text = _source(cell).lstrip()
        kind = None
        if cell["cell_type"] == "markdown":
            if index == 0 or re.match(r"#{1,2}\s", text) or text.startswith(PREDICT):
                kind = "slide"
            elif text.startswith("###") or previous == "code":
                kind = "subslide"
            after_question = text.startswith(PREDICT)
        elif after_question:
            kind, after_question = "fragment", False
        types.append(kind)
        previous = cell["cell_type"]
    return types


def with_slides(notebook):
    """The notebook (a dict as in the .ipynb file) with its questions split and its slide types set."""
    cells = split_questions(notebook["cells"])
    for cell, kind in zip(cells, slide_types(cells)):
        cell["source"] = _lines(cell["source"])
        cell["metadata"].pop("slideshow", None)
        if kind is not None:
            cell["metadata"]["slideshow"] = {"slide_type": kind}
    return dict(notebook, cells=cells)


def _lines(source):
    """A cell source as the list of lines the .ipynb format stores."""
    text = "".join(source)
    return text.splitlines(keepends=True)


def lessons():
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main():
    for path in lessons():
        notebook = json.loads(path.read_text())
        updated = with_slides(notebook)
        if updated != notebook:
            path.write_text(json.dumps(updated, indent=1, ensure_ascii=False, sort_keys=True) + "\n")  # as nbformat writes
        counts = {}
        for cell in updated["cells"]:
            kind = cell["metadata"].get("slideshow", {}).get("slide_type", "continued")
            counts[kind] = counts.get(kind, 0) + 1
        print(f"{path.name}: {counts}")


if __name__ == "__main__":
    main()
