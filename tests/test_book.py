"""The course site (``make book``, book/build.py): built from the committed notebooks, nothing from the network.

The browser half (every page opened with non-local requests blocked, maths typeset) is in
tests/browser/test_book_in_browser.py; here the pages' HTML and the widget replacement are checked.
"""

import base64
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import build  # noqa: E402  (book/ is a folder of scripts, not a package)

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VIEW, STATE = "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0 a picture").decode()


def stored_pictures(path):
    """The pictures a lesson stores, counted from the notebook's JSON apart from the builder's own walk:
    ``(image outputs of its cells, [pictures held by the Output widgets of each widget output])``."""
    notebook = json.loads(path.read_text())
    state = notebook["metadata"].get("widgets", {}).get(STATE, {}).get("state", {})

    def inside(model_id):
        model = state.get(model_id, {"state": {}})
        own = sum(1 for shown in model["state"].get("outputs", [])
                  if any(key.startswith("image/") for key in shown.get("data", {})))
        return own + sum(inside(child.replace("IPY_MODEL_", "")) for child in model["state"].get("children", []))

    plain, widgets = 0, []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if VIEW in data:
                widgets.append(inside(data[VIEW]["model_id"]))
            elif any(key.startswith("image/") for key in data):
                plain += 1
    return plain, widgets


def _widget_notebook():
    """A notebook with one interactive figure (a box: a slider and an Output widget holding a JPEG) and one
    progress bar (tqdm's box of two labels around a bar)."""
    def model(name, **state):
        return {"model_module": "@jupyter-widgets/controls", "model_name": name, "model_module_version": "2.0.0",
                "state": state}

    state = {
        "fig": model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_out"]),
        "slider": model("IntSliderModel", value=3, description="image"),
        "out": model("OutputModel", outputs=[{"output_type": "display_data", "metadata": {},
                                              "data": {"image/jpeg": JPEG, "text/plain": "<Image>"}}]),
        "bar": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]),
        "left": model("HTMLModel", value="RISE, batches of masks: 100%"),
        "progress": model("FloatProgressModel", value=40, max=40),
        "right": model("HTMLModel", value=" 40/40 [00:02&lt;00:00, 18.1it/s]"),
    }
    cells = [nbformat.v4.new_code_cell("browser", outputs=[nbformat.v4.new_output(
                 "display_data", data={VIEW: {"model_id": "fig", "version_major": 2}, "text/plain": "VBox()"})]),
             nbformat.v4.new_code_cell("maps = rise(...)", outputs=[nbformat.v4.new_output(
                 "display_data", data={VIEW: {"model_id": "bar", "version_major": 2}, "text/plain": "  0%|"}),
                 nbformat.v4.new_output("stream", name="stdout", text="done\n")])]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["widgets"] = {STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return notebook


def test_a_widget_output_becomes_its_stored_picture_and_a_progress_bar_its_last_line():
    static = build.static_notebook(_widget_notebook())
    assert "widgets" not in static.metadata  # no widget state left: the page loads no widget manager
    figure, bar = (cell.outputs for cell in static.cells)
    assert [list(o.get("data", {})) for o in figure] == [["image/jpeg", "text/plain"], ["text/html"]]
    assert figure[0].data["image/jpeg"] == JPEG and "make lab" in figure[1].data["text/html"]
    assert [o.output_type for o in bar] == ["stream", "stream"]
    assert bar[0].text == "RISE, batches of masks: 100% 40 / 40 40/40 [00:02<00:00, 18.1it/s]\n"
    assert bar[1].text == "done\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    return out, build.build(out)


def test_the_site_has_the_readme_every_lesson_in_order_and_the_running_page(site):
    out, pages = site
    assert [name for name, _ in pages] == ["index.html"] + [p.stem + ".html" for p in LESSONS] + ["running.html"]
    assert pages[1][1].startswith("00 · ") and pages[-2][1].startswith("07 · ")
    for position, (name, _) in enumerate(pages):
        page = (out / name).read_text()
        assert page.count('class="course-nav"') == 1 and f'<a aria-current="page" href="{name}">' in page
        if position + 1 < len(pages):
            assert f'class="course-next" href="{pages[position + 1][0]}"' in page
    index = (out / "index.html").read_text()
    assert "<h1" in index and "Where CNNs Look" in index and 'src="docs/course_figure.jpg"' in index
    assert (out / "docs" / "course_figure.jpg").is_file() and (out / "_static" / "mathjax" / "MathJax.js").is_file()


def test_no_page_refers_to_anything_outside_the_site(site):
    out, pages = site
    reference = re.compile(r'<(?:script|link|img|iframe|source)\b[^>]*?(?:src|href)="([^"]+)"', re.IGNORECASE)
    for name, _ in pages:
        page = (out / name).read_text()
        for target in reference.findall(page):
            assert target.startswith(("data:", "_static/", "docs/")), f"{name} loads {target}"
            if not target.startswith("data:"):
                assert (out / target.split("?")[0]).is_file(), f"{name} loads the missing {target}"
        assert "require.js" not in page and "embed-amd" not in page and "mermaid.esm" not in page


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_page_shows_every_stored_picture(site, path):
    out, _ = site
    page = (out / f"{path.stem}.html").read_text()
    plain, widgets = stored_pictures(path)
    assert len(re.findall(r"<img\b", page)) == plain + sum(widgets)
    assert page.count('class="course-widget-note"') == sum(1 for count in widgets if count) > 0
    assert "application/vnd.jupyter.widget-view+json" not in page
