"""The speed ratios measured by ``bench/`` scripts, read back so that a lesson prints what it quotes.

Each script of ``bench/`` writes ``bench/results/<script>--<machine>.json`` with its
ratios (one run against a baseline on one machine; see ``bench/README.md``). A
ratio is ``time of the thing measured / time of its baseline``: 1.03 means 3 %
slower than the baseline, 0.5 twice as fast.
"""

import json

from .data import DATA_DIR

RESULTS_DIR = DATA_DIR.parent / "bench" / "results"


def stored_results(script):
    """Every stored result of ``bench/<script>.py``, one dict per machine (in file-name order).

    Raises:
        FileNotFoundError: the script has no stored result (``helpers`` installed without the course's ``bench/``).
    """
    paths = sorted(RESULTS_DIR.glob(f"{script}--*.json"))
    if not paths:
        raise FileNotFoundError(f"no stored results of bench/{script}.py in {RESULTS_DIR}")
    return [json.loads(path.read_text()) for path in paths]


def speed_ratios(*scripts):
    """Rows ``{"comparison", "machine", "ratio", "goal", "settings"}`` of the stored results of ``scripts``.

    Raises:
        FileNotFoundError: a script has no stored result.
    """
    return [{"comparison": ratio["comparison"], "machine": result["machine"], "ratio": ratio["value"],
             "goal": ratio["goal"], "settings": result["settings"]}
            for script in scripts for result in stored_results(script) for ratio in result["ratios"]]
