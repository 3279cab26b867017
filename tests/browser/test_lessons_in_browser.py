"""Every lesson opened in JupyterLab in a real (headless) Chromium: it runs clean, prints what it printed, and its sliders redraw.

nbval proves that the kernel side still works; this suite checks what a lecturer
sees. For each notebook in ``notebooks/`` it opens a *copy* in JupyterLab, runs all
cells from the Run menu, waits until the kernel is idle, fails on any stored
error, then presses the arrow key on the first slider of every interactive
figure and waits for that figure's image to change. Then it presents the lesson as
slides (jupyterlab-slideshow, at 1280 x 720): the first slide must show the lesson's
title, and on the first slide with an interactive figure a slider must redraw it. No
request may leave the machine meanwhile.

One run of a lesson serves both checks: the outputs of the cells tagged
``nbval-check-output``, as the browser saved them, are compared with the committed
ones by nbval's own comparison (its ``compare_outputs``, with
``tests/nbval_sanitize.cfg``), and the root ``conftest.py`` then leaves out
nbval's separate kernel run of every notebook this suite runs. Each lesson is so
executed once per ``make test``; ``make nbval`` runs nbval alone.

Set-up: Debian's ``chromium`` package and the pip package ``playwright`` (no
browser download: Playwright drives the system Chromium through
``executable_path``). Without Chromium the suite is skipped with one line saying
how to enable it, unless ``WCL_REQUIRE_BROWSER=1`` (CI), which makes that a failure.
``WCL_CHROMIUM`` points to another Chromium binary.
"""

import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from nbval_compare import NbvalComparison


def _stored_run_seconds(path):
    """How long the committed run of a notebook took: the cells' execution times that nbclient records."""
    total = 0.0
    for cell in json.loads(path.read_text())["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (datetime.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            total += (end - start).total_seconds()
    return total


# The longest lessons first: with `make test`'s two workers (pytest-xdist), the long runs start
# early and the short ones and the unit tests fill the gaps at the end.
NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"), key=_stored_run_seconds,
                   reverse=True)
CHROMIUM = os.environ.get("WCL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("WCL_REQUIRE_BROWSER") == "1"

# Every wait is bounded (seconds).
SERVER_START, OPEN, RUN_ALL, SAVE, REDRAW = 60, 90, 900, 30, 20
STEP = 3  # seconds for a slide to change
SLIDE_SIZE = {"width": 1280, "height": 720}

_missing = None
try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:
    _missing = "the pip package playwright is not installed (it is in requirements-lock.txt)"
if _missing is None and not CHROMIUM:
    _missing = "no Chromium found; enable with `sudo apt-get install chromium` or set WCL_CHROMIUM=/path/to/chromium"
if _missing:
    if REQUIRED:
        pytest.fail(f"browser tests required (WCL_REQUIRE_BROWSER=1) but {_missing}", pytrace=False)
    pytest.skip(f"browser tests skipped: {_missing}", allow_module_level=True)

# JupyterLab user settings for the throw-away settings folder: every cell in the DOM
# (no virtual scrolling), no autosave, no news pop-up over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A JupyterLab server on a copy of the notebooks, in a temporary folder."""

    def __init__(self, root):
        self.root, self.port, self.token = root, _free_port(), os.urandom(12).hex()
        self.notebooks = root / "notebooks"
        self.notebooks.mkdir()
        for path in NOTEBOOKS:
            shutil.copy(path, self.notebooks / path.name)
        settings = root / "settings"
        for name, values in LAB_SETTINGS.items():
            file = settings / f"{name}.jupyterlab-settings"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(values))
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(root / "runtime"))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   f"--IdentityProvider.token={self.token}", f"--notebook-dir={self.notebooks}",
                   "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.log = root / "jupyterlab.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_up()

    def url(self, path):
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{separator}token={self.token}"

    def _wait_until_up(self):
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(self.url("api/status"), timeout=2).close()
                return
            except OSError:
                time.sleep(0.3)
        self.close()
        raise TimeoutError(f"JupyterLab did not answer within {SERVER_START} s; see {self.log}")

    def saved(self, name):
        """The notebook as JupyterLab saved it (outputs included), through the contents API."""
        with urllib.request.urlopen(self.url(f"api/contents/{name}?content=1"), timeout=10) as answer:
            return json.load(answer)

    def shut_down_kernels(self):
        """End every kernel of the server: a lesson's kernel holds its models after its test."""
        with urllib.request.urlopen(self.url("api/kernels"), timeout=10) as answer:
            kernels = json.load(answer)
        for kernel in kernels:
            request = urllib.request.Request(self.url(f"api/kernels/{kernel['id']}"), method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


_KERNEL_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
_PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim())"


def _open(page, lab, name):
    """Open the notebook and wait until its kernel is connected and idle."""
    page.goto(lab.url(f"lab/tree/{name}?reset"), timeout=OPEN * 1000)
    page.wait_for_selector(".jp-Notebook", timeout=OPEN * 1000)
    page.wait_for_function(_KERNEL_READY, timeout=OPEN * 1000, polling=100)


def _command(page, command):
    """Start a JupyterLab command (what a menu item does) without waiting for it to finish."""
    page.evaluate("command => { window.jupyterapp.commands.execute(command); }", command)


def _run_all(page):
    """Clear the stored outputs, run every cell, and wait until the run has ended (cleanly or not)."""
    _command(page, "notebook:clear-all-cell-outputs")
    page.wait_for_function(f"() => ({_PROMPTS})().every(p => !/\\d/.test(p))", timeout=OPEN * 1000)
    _command(page, "notebook:run-all-cells")
    page.wait_for_function(f"() => ({_PROMPTS})().some(p => p.includes('*') || /\\d/.test(p))",
                           timeout=OPEN * 1000)
    # Ended when nothing is queued ("[*]") and the kernel is idle; after an error the
    # cells below stay "[ ]" and the saved notebook tells which.
    page.wait_for_function(
        f"() => ({_KERNEL_READY})() && ({_PROMPTS})().every(p => !p.includes('*'))",
        timeout=RUN_ALL * 1000,
        polling=250,
    )


def _save(page, lab, name):
    """Save from the browser, wait for JupyterLab's save to finish, then read that version back from the server.

    The version is the modification time the server gave the browser's save; the
    notebook read back must carry it (a read while the server is still writing gets
    a 400 "Unreadable Notebook" and is tried again).
    """
    saved_at = page.evaluate("""async () => {
        const context = window.jupyterapp.shell.currentWidget.context;
        await context.save();
        return context.contentsModel.last_modified;
    }""")
    deadline, held = time.monotonic() + SAVE, None
    while time.monotonic() < deadline:
        try:
            notebook = lab.saved(name)
        except urllib.error.HTTPError as error:
            if error.code != 400:
                raise
            time.sleep(0.25)
            continue
        held = notebook["last_modified"]
        if held == saved_at:
            return notebook["content"]
        time.sleep(0.25)
    raise TimeoutError(f"{name}: the browser saved the version of {saved_at}, the server still holds {held} after {SAVE} s")


def _errors(notebook):
    """One line per stored error output or code cell left unexecuted."""
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        if cell["execution_count"] is None:
            problems.append(f"cell {index} was not executed")
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                problems.append(f"cell {index}: {output['ename']}: {output['evalue']}")
    return problems


def _slider_redraws(page, figure):
    """Press an arrow key on the figure's first slider; True when the figure's image changes."""
    figure.locator("img").first.wait_for(timeout=REDRAW * 1000)
    before = figure.locator("img").first.get_attribute("src")
    handle = figure.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    try:  # the output is cleared and redrawn, so look the image up afresh at every poll
        page.wait_for_function(
            "([root, src]) => { const img = root.querySelector('img'); return img && img.getAttribute('src') !== src; }",
            arg=[figure.element_handle(), before], timeout=REDRAW * 1000, polling=100)
    except PlaywrightTimeout:
        return False
    return True


_ACTIVE = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"


def _next_slide(page):
    """Step the deck as the space bar does (down, else forward); False at the end of the deck. A step makes
    the next part of the deck the active cell (a step that reveals a fragment may leave the slide's text as it
    was, so the active cell is what tells that the deck moved)."""
    before = page.evaluate(_ACTIVE)
    for command in ("deck:down", "deck:forward"):
        _command(page, command)
        try:
            page.wait_for_function(f"before => ({_ACTIVE})() !== before", arg=before, timeout=STEP * 1000,
                                   polling=100)
            return True
        except PlaywrightTimeout:
            continue
    return False


def _start_deck_at(page, index):
    """Present the notebook as slides from cell ``index`` (the deck starts at the active cell)."""
    page.evaluate(f"() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}; }}")
    _command(page, "deck:start")
    page.wait_for_selector(".jp-deck-mod-onscreen", timeout=OPEN * 1000)


def _present(page, path, shot):
    """Present the executed lesson as slides: from the first cell, the title slide, then a step (the space bar's
    down-else-forward); then from the first cell holding an interactive figure, as a lecturer who clicks it and
    presents, that slide: screenshot, and its slider must redraw the figure."""
    title = json.loads(path.read_text())["cells"][0]["source"][0].lstrip("# ").strip()
    page.set_viewport_size(SLIDE_SIZE)
    _start_deck_at(page, 0)
    first = page.locator(".jp-deck-mod-onscreen").first.inner_text()
    assert title in first, f"{path.name}: the first slide shows {first[:80]!r}, not the title {title!r}"
    assert _next_slide(page), f"{path.name}: the deck does not move on from its title slide"
    _command(page, "deck:stop")
    page.wait_for_selector(".jp-deck-mod-onscreen", state="detached", timeout=OPEN * 1000)
    index = page.evaluate("() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].findIndex("
                          "cell => cell.querySelector('.jp-OutputArea-output .widget-slider'))")
    _start_deck_at(page, index)
    figure = page.locator(".jp-deck-mod-onscreen .jp-OutputArea-output:has(.widget-slider)")
    figure.first.wait_for(timeout=OPEN * 1000)
    page.screenshot(path=str(shot))
    assert _slider_redraws(page, figure.first), f"{path.name}: the figure of cell {index} did not redraw in slides"
    _command(page, "deck:stop")
    return index


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_runs_and_sliders_redraw(path, lab, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    shot = screenshots / f"{path.stem}.png"
    timings, outside = {}, []
    page.on("request", lambda request: request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:",
                                                                 "blob:", "about:")) or outside.append(request.url))
    try:
        start = time.perf_counter()
        _open(page, lab, path.name)
        timings["open"] = time.perf_counter() - start

        start = time.perf_counter()
        _run_all(page)
        timings["run all"] = time.perf_counter() - start
        saved = _save(page, lab, path.name)
        problems = _errors(saved)
        assert not problems, f"{path.name} in the browser: {problems}; screenshot {shot}"
        differences = NbvalComparison().differences(path.read_text(), saved)
        assert not differences, f"{path.name} in the browser: " + "\n".join(differences)

        start = time.perf_counter()
        figures = page.locator(".jp-OutputArea-output:has(.widget-slider)")
        assert figures.count() >= 1, f"{path.name} has no interactive figure with a slider; screenshot {shot}"
        for index in range(figures.count()):
            assert _slider_redraws(page, figures.nth(index)), (
                f"{path.name}: interactive figure {index} did not redraw after its first slider moved; "
                f"screenshot {shot}")
        timings["sliders"] = time.perf_counter() - start

        start = time.perf_counter()
        slides = screenshots / f"{path.stem}-slides.png"
        index = _present(page, path, slides)
        timings["slides"] = time.perf_counter() - start
        assert not outside, f"{path.name}: requests left the machine: {outside[:5]}"
        print(f"{path.name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; screenshot {shot}; "
              f"slides: the figure of cell {index} redrew in slide mode, {slides}")
    finally:
        try:  # a failing screenshot must not hide the failure that brought us here
            page.screenshot(path=str(shot), timeout=REDRAW * 1000)
        except Exception as error:  # noqa: BLE001 - reported, not raised
            print(f"{path.name}: no screenshot ({type(error).__name__}: {error})")
        page.close()
        lab.shut_down_kernels()
