"""The speed ratios measured by ``bench/`` scripts, read back so that a lesson prints what it quotes.

Each script of ``bench/`` writes ``bench/results/<script>--<machine>.json`` with its
ratios (one run against a baseline on one machine; see ``bench/README.md``). A
ratio is ``time of the thing measured / time of its baseline``: 1.03 means 3 %
slower than the baseline, 0.5 twice as fast.
"""

import json

from .data import DATA_DIR

RESULTS_DIR = DATA_DIR.parent / "bench" / "results"


def speed_ratios(*scripts):
    """Rows ``{"comparison", "machine", "ratio", "goal", "settings"}`` of the stored results of ``scripts``.

    Raises:
        FileNotFoundError: a script has no stored result (``helpers`` installed without the course's ``bench/``).
    """
    rows = []
    for script in scripts:
        paths = sorted(RESULTS_DIR.glob(f"{script}--*.json"))
        if not paths:
            raise FileNotFoundError(f"no stored results of bench/{script}.py in {RESULTS_DIR}")
        for path in paths:
            result = json.loads(path.read_text())
            rows += [{"comparison": ratio["comparison"], "machine": result["machine"], "ratio": ratio["value"],
                      "goal": ratio["goal"], "settings": result["settings"]} for ratio in result["ratios"]]
    return rows
