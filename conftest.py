"""Test-run set-up shared by the unit tests and nbval: no network.

Loaded by pytest before collection, for ``tests/`` and ``notebooks/`` alike.
"""

import importlib.util
import os
from pathlib import Path

OFFLINE = Path(__file__).resolve().parent / "tests" / "offline" / "sitecustomize.py"

# Kernels started by nbval inherit this environment, so they import
# tests/offline/sitecustomize.py at start-up and are blocked too.
os.environ["WCL_OFFLINE"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE.parent), os.environ.get("PYTHONPATH")]))

_spec = importlib.util.spec_from_file_location("wcl_offline", OFFLINE)
offline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(offline)
offline.block()
