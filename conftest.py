"""Test-run set-up shared by the unit tests and nbval: no network.

Loaded by pytest before collection, for ``tests/`` and ``notebooks/`` alike.
"""

import importlib.util
import os
from pathlib import Path

import pytest

OFFLINE = Path(__file__).resolve().parent / "tests" / "offline" / "sitecustomize.py"

# Kernels started by nbval inherit this environment, so they import
# tests/offline/sitecustomize.py at start-up and are blocked too.
os.environ["WCL_OFFLINE"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE.parent), os.environ.get("PYTHONPATH")]))

# Under pytest-xdist (`make test` runs two workers), each worker and the kernels it starts
# (nbval's, JupyterLab's) use an equal share of the cores instead of all of them each.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

_spec = importlib.util.spec_from_file_location("wcl_offline", OFFLINE)
offline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(offline)
offline.block()


def pytest_report_header(config):
    return ("notebooks: each runs once, in JupyterLab and headless Chromium where Chromium is found (tests/browser, "
            "outputs checked with nbval's comparison), else by nbval")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist sees the items
def pytest_collection_modifyitems(config, items):
    """Run each lesson once: where the browser suite runs a notebook, leave out nbval's own run of it.

    tests/browser/ executes the notebook in JupyterLab and compares the outputs of its
    ``nbval-check-output`` cells with nbval's own comparison; a second, kernel-only
    execution would only double the time of ``make test``. Without Chromium the browser
    suite is skipped at collection and nbval runs every notebook as usual.
    """
    in_browser = {item.callspec.params["path"].name for item in items
                  if getattr(item, "originalname", None) == "test_lesson_runs_and_sliders_redraw"}
    if not in_browser:
        return
    twice = [item for item in items if type(item).__name__ == "IPyNbCell" and item.path.name in in_browser]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item not in twice]
        reporter = config.pluginmanager.get_plugin("terminalreporter")  # absent in xdist workers
        if reporter is not None:
            reporter.write_line(
                f"nbval: {len(in_browser)} notebooks run in the browser suite, which checks their outputs with "
                f"nbval's comparison; their {len(twice)} nbval cells are left out here (`make nbval` runs them alone)")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``, with each notebook's nbval cells one group: they run in order in one kernel.

    nbval's cells share one kernel per notebook, so a notebook must not be split
    between workers. pytest-xdist groups tests by the ``@group`` suffix it writes into
    their node ids from ``xdist_group`` marks, which pytest 9 no longer reads
    (``_nodeid``); the scheduler here groups the cells by their notebook's node id instead.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class NotebookGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            notebook, cell, _ = nodeid.partition(".ipynb::Cell ")
            return notebook + ".ipynb" if cell else super()._split_scope(nodeid)

    return NotebookGroups(config, log)
