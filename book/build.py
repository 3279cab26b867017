"""Build the course's static site from the committed notebooks, without running them: ``make book``.

The site is plain HTML that needs nothing from the network, neither to build nor to read:

- ``index.html`` is the README, ``running.html`` the page on running the lessons for real
  (``book/running.md``), and one page per lesson, ``00_start_here.html`` to ``07_comparison.html``,
  in order, with a navigation bar on top and the previous / next lesson at the bottom;
- each page is nbconvert's JupyterLab-style HTML of the notebook as committed (its stored figures,
  tables and printed numbers), through the template in ``book/templates/course``;
- maths is typeset in the reader's browser by MathJax 2 copied from the pip package
  ``jupyter-server-mathjax`` (pinned in the lock) into ``_static/mathjax``: no CDN;
- an interactive figure cannot move without a kernel, so each widget output is replaced by the picture
  the widget showed when the lesson was executed (kept in the notebook's widget state) and one line
  saying that its sliders move in JupyterLab; a progress bar becomes its final line of text.

Run: ``.venv/bin/python book/build.py [--out build/book]``, then open ``build/book/index.html`` or serve the
folder (``python -m http.server -d build/book``).
"""

import argparse
import copy
import html
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX = "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
WIDGET_NOTE = ("<p class=\"course-widget-note\">Interactive figure: this is the picture stored with the lesson. "
               "Its sliders move when the lesson runs in JupyterLab (<code>make lab</code>, see "
               "<a href=\"running.html\">Running the lessons</a>).</p>")


def lessons(root=ROOT):
    """The lesson notebooks in course order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _children(model):
    """The model ids a container widget holds (``IPY_MODEL_<id>`` references)."""
    return [child.removeprefix("IPY_MODEL_") for child in model["state"].get("children", [])]


def _walk(state, model_id):
    """Every model of the widget tree under ``model_id``, depth first (missing models skipped)."""
    model = state.get(model_id)
    if model is None:
        return []
    found = [model]
    for child in _children(model):
        found += _walk(state, child)
    return found


def _text(value):
    return html.unescape(re.sub(r"<[^>]+>", "", str(value))).strip()


def widget_outputs(output, state):
    """The static outputs that stand for one widget output: the image outputs its Output widgets hold,
    with a note that the sliders move in JupyterLab, or, for a widget without pictures (a progress bar),
    one line of its text."""
    models = _walk(state, output["data"][WIDGET_VIEW]["model_id"])
    pictures = [copy.deepcopy(shown) for model in models if model["model_name"] == "OutputModel"
                for shown in model["state"].get("outputs", []) if set(shown.get("data", {})) & set(IMAGE_TYPES)]
    if pictures:
        for picture in pictures:
            picture.setdefault("metadata", {})
        return pictures + [nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE})]
    parts = []
    for model in models:
        values = model["state"]
        if model["model_name"] in ("HTMLModel", "LabelModel") and _text(values.get("value", "")):
            parts.append(_text(values["value"]))
        elif model["model_name"] in ("FloatProgressModel", "IntProgressModel"):
            parts.append(f"{values.get('value', 0):g} / {values.get('max', 100):g}")
    line = " ".join(parts) or "(an interactive widget: it runs in JupyterLab)"
    return [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]


def static_notebook(notebook):
    """A copy of ``notebook`` whose widget outputs are replaced by what they showed (:func:`widget_outputs`)
    and whose widget state is dropped, so the page needs no widget manager."""
    notebook = copy.deepcopy(notebook)
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        replaced = []
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                replaced += widget_outputs(output, state)
            else:
                replaced.append(output)
        cell.outputs = [nbformat.from_dict(output) for output in replaced]
    return notebook


def title_of(notebook, fallback):
    """The first heading of the first markdown cell ("00 · Start here"), else ``fallback``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def markdown_page(path):
    """A one-cell notebook of a markdown file, so that it is drawn like the lessons."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(path.read_text())])


def _exporter():
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(BOOK / "templates")])
    exporter.mathjax_url = MATHJAX
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    return exporter


def _links(page):
    """Links between the course's own files, as they are in the repository, pointed at the site's pages."""
    page = re.sub(r'href="(?:\.\./)?(?:notebooks/)?(\d\d_[\w-]+)\.ipynb"', r'href="\1.html"', page)
    return page.replace('href="book/running.md"', 'href="running.html"')


def build(out, root=ROOT):
    """Write the site into ``out`` (emptied first); returns the pages written, in navigation order, as
    ``[(file name, title)]``."""
    import jupyter_server_mathjax

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "_static").mkdir(parents=True)
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", out / "_static" / "mathjax")
    shutil.copy(BOOK / "course.css", out / "_static" / "course.css")
    (out / "docs").mkdir()
    for figure in (root / "docs").glob("*.jpg"):
        shutil.copy(figure, out / "docs" / figure.name)

    sources = [("index.html", "Where CNNs Look", markdown_page(root / "README.md"))]
    for path in lessons(root):
        notebook = nbformat.read(path, as_version=4)
        sources.append((f"{path.stem}.html", title_of(notebook, path.stem), static_notebook(notebook)))
    sources.append(("running.html", "Running the lessons", markdown_page(BOOK / "running.md")))
    pages = [(name, title) for name, title, _ in sources]
    short = [(name, re.split(r"[:?]", title)[0]) for name, title in pages]  # the navigation bar's labels
    exporter = _exporter()
    for position, (name, title, notebook) in enumerate(sources):
        course = {"pages": short, "here": name,
                  "previous": pages[position - 1] if position > 0 else None,
                  "next": pages[position + 1] if position + 1 < len(pages) else None}
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}, "course": course})
        (out / name).write_text(_links(body))
    return pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "book"))
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build(args.out)
    size = sum(path.stat().st_size for path in Path(args.out).rglob("*") if path.is_file())
    print(f"{len(pages)} pages in {args.out} ({size / 2 ** 20:.1f} MiB) in {time.perf_counter() - start:.1f} s; "
          f"open {Path(args.out) / 'index.html'}")


if __name__ == "__main__":
    main()
