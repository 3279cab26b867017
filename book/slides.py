"""The lessons' slide structure for JupyterLab's slideshow (jupyterlab-slideshow): ``slideshow.slide_type`` in
each cell's metadata, set by rules so that nothing is written by hand twice.

- A new **slide** at the lesson's title, at every ``##`` section and at every *Predict, then run* question,
  so the room sees the question before the answer. A markdown cell is first cut before each of its headings
  and questions (:func:`split_cells`), so each of them opens a cell.
- A **subslide** at every ``###`` heading and at every other markdown cell that follows a code cell: one
  step of the lesson (its text, its cell, its figure) per screen.
- The first code cell after a question is a **fragment**: it appears on the next key press, so the room
  answers first. A code cell that shows an interactive figure (``widgets.<name>_browser(...)``) is a
  **subslide** of its own, so the figure and its sliders get the whole screen.
- Every other cell continues the slide above it: it has no ``slide_type`` (jupyterlab-slideshow 0.3.4 never
  shows a cell whose type is ``"-"``, so the key is left out rather than set to it). No cell is skipped.

Run ``.venv/bin/python book/slides.py`` after editing a lesson; ``tests/test_slides.py`` checks that every lesson
carries exactly these types.
"""

import copy
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREDICT = "**Predict, then run.**"
FIGURE = re.compile(r"\bwidgets\.\w+_browser\(")


def _source(cell):
    return "".join(cell["source"])


def _starts(text):
    """Where new cells begin inside a markdown text: at each heading line (``#`` to ``###``) and each
    *Predict, then run* paragraph that follows a blank line, is not at the start, and is outside code fences
    and ``$$`` maths (where a line may well start with ``#``)."""
    cuts, offset, fenced, maths, blank = [], 0, False, False, False
    for line in text.splitlines(keepends=True):
        opens = not fenced and not maths and blank and offset > 0
        if opens and (re.match(r"#{1,3}\s", line) or line.startswith(PREDICT)):
            cuts.append(offset)
        fenced ^= line.lstrip().startswith("```")
        maths ^= not fenced and line.count("$$") % 2 == 1
        blank, offset = not line.strip(), offset + len(line)
    return cuts


def split_cells(cells):
    """The cells with every markdown cell cut before each heading and each *Predict, then run* question that does
    not open it (the pieces keep the text; the blank lines between them are the cell boundary), so that each can
    start a slide."""
    result = []
    for cell in cells:
        text = _source(cell)
        cuts = _starts(text) if cell["cell_type"] == "markdown" else []
        if not cuts:
            result.append(cell)
            continue
        pieces = [text[start:end].strip("\n") for start, end in zip([0] + cuts, cuts + [len(text)])]
        result.append(dict(cell, source=pieces[0]))
        result += [{"cell_type": "markdown", "id": f"{cell.get('id', 'cell')}-{number}", "metadata": {},
                    "source": piece} for number, piece in enumerate(pieces[1:], start=1)]
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
        elif FIGURE.search(_source(cell)):
            kind = "subslide"
        types.append(kind)
        previous = cell["cell_type"]
    return types


def with_slides(notebook):
    """A copy of the notebook (a dict as in the .ipynb file) with its cells cut and its slide types set."""
    cells = split_cells(copy.deepcopy(notebook["cells"]))
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
            # as nbformat writes a notebook
            path.write_text(json.dumps(updated, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        counts = {}
        for cell in updated["cells"]:
            kind = cell["metadata"].get("slideshow", {}).get("slide_type", "continued")
            counts[kind] = counts.get(kind, 0) + 1
        print(f"{path.name}: {counts}")


if __name__ == "__main__":
    main()
