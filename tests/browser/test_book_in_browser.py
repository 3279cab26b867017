"""The course site (``make book``) read in a real (headless) Chromium with the network cut off.

The site is built from the committed notebooks into a temporary folder and served on 127.0.0.1. Every request
to any other address is blocked and logged. Each page must load with no blocked and no failed request, its
maths typeset by the site's own MathJax (no raw ``$`` or ``\\(`` left in the text), and every picture the
notebook stores shown and decoded. A screenshot of each page is kept.

Set-up and skipping: as tests/browser/test_lessons_in_browser.py (Debian's Chromium, the pip package
playwright; ``WCL_REQUIRE_BROWSER=1`` turns a missing browser into a failure).
"""

import functools
import http.server
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from test_lessons_in_browser import browser  # noqa: F401 (the Chromium fixture; it skips without a browser)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book"))
sys.path.insert(0, str(ROOT / "tests"))
import build  # noqa: E402
from test_book import stored_pictures  # noqa: E402

LOAD = 60  # seconds, every wait

# MathJax 2 typesets the page as it starts and is ready after; then its queue runs a callback after that work.
_TYPESET = """() => new Promise(done => MathJax.Hub.Queue(() => done('typeset')))"""

# The rendered prose of a page, without code, and without the TeX MathJax keeps in its script elements.
_PROSE = """() => [...document.querySelectorAll('.jp-RenderedMarkdown')].map(block => {
    const copy = block.cloneNode(true);
    copy.querySelectorAll('code, pre, script, .MathJax_Preview, .MathJax, .MathJax_Display').forEach(e => e.remove());
    return copy.textContent;
}).join('\\n')"""
_IMAGES = """() => [...document.querySelectorAll('.jp-OutputArea-output img')].map(
    img => img.complete && img.naturalWidth > 0)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    pages = build.build(out)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_loads_offline_with_maths_and_pictures(site, browser, tmp_path_factory):
    base, pages = site
    host = urlparse(base).netloc
    shots = tmp_path_factory.mktemp("site-screenshots")
    blocked, failed = [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def guard(route):
        if urlparse(route.request.url).netloc == host or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    # MathJax's HTML-CSS output probes with an image of about:blank, which Chromium refuses; nothing is fetched
    here = [None]
    page.on("requestfailed", lambda request: request.url == "about:blank"
            or failed.append(f"{here[0]}: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and failed.append(f"{here[0]}: {response.url} {response.status}"))
    lessons = {p.stem + ".html": p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    for name, title in pages:
        here[0] = name
        page.goto(f"{base}/{name}", wait_until="load", timeout=LOAD * 1000)
        page.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=LOAD * 1000)
        assert page.evaluate(_TYPESET) == "typeset", f"{name}: MathJax did not finish"
        prose = page.evaluate(_PROSE)
        assert "$" not in prose and "\\(" not in prose and "\\[" not in prose, f"{name}: maths left as TeX"
        shown = page.evaluate(_IMAGES)
        assert all(shown), f"{name}: {shown.count(False)} pictures did not load"
        if name in lessons:
            plain, widgets = stored_pictures(lessons[name])
            assert len(shown) == plain + sum(widgets), f"{name}: {len(shown)} pictures shown"
            assert page.locator(".MathJax").count() > 0, f"{name}: no typeset maths"
        assert title in page.title() or name == "index.html"
        page.screenshot(path=str(shots / f"{Path(name).stem}.png"), full_page=False)
    context.close()
    assert not blocked, f"requests to outside the site: {blocked}"
    assert not failed, f"failed requests: {failed}"
    print(f"{len(pages)} pages, no outside or failed request; screenshots in {shots}")
