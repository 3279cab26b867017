"""nbval's output comparison for notebooks executed elsewhere (here: in JupyterLab, by tests/browser).

nbval executes a notebook in its own kernel and compares the outputs of the cells
tagged ``nbval-check-output`` with the committed ones. The browser suite has
already executed the notebook; this applies nbval's own comparison code
(``IPyNbCell.compare_outputs`` with the regexes of ``tests/nbval_sanitize.cfg``)
to the outputs the browser saved, so one run of a lesson serves both checks.
"""

import json
from pathlib import Path

import nbformat
from nbval.plugin import IPyNbCell, coalesce_streams, get_sanitize_patterns, nocolors

SANITIZE = Path(__file__).resolve().parents[1] / "nbval_sanitize.cfg"


class NbvalComparison:
    """What nbval's ``IPyNbCell.compare_outputs`` reads from its cell item, for outputs that come from the browser.

    ``SKIP`` is the tuple nbval 0.11's ``IPyNbFile`` sets (without ``--nbdime``): images,
    widget model ids, metadata and execution counts are not compared.
    """

    SKIP = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
            "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg")
    colors, config = nocolors, None
    # no pytest item behind it: nbval's plain "reference / disagrees with" report, not pytest's diff
    ihook = type("Hooks", (), {"pytest_assertrepr_compare": staticmethod(lambda **_: [])})()
    sanitize = IPyNbCell.sanitize
    compare_outputs = IPyNbCell.compare_outputs
    format_output_compare = IPyNbCell.format_output_compare

    def __init__(self):
        patterns = dict(get_sanitize_patterns(SANITIZE.read_text()))
        self.parent = type("File", (), {"skip_compare": self.SKIP, "sanitize_patterns": patterns})()
        self.comparison_traceback = []

    def differences(self, committed, saved):
        """One message per ``nbval-check-output`` cell whose browser outputs differ from the committed ones.

        Both notebooks are JSON text or dicts; they are read as nbval reads a notebook (nbformat 4).
        """
        committed, saved = (nbformat.reads(nb if isinstance(nb, str) else json.dumps(nb), as_version=4)
                            for nb in (committed, saved))
        if len(committed.cells) != len(saved.cells):
            return [f"the saved notebook has {len(saved.cells)} cells, the committed one {len(committed.cells)}"]
        problems = []
        for index, (reference, fresh) in enumerate(zip(committed.cells, saved.cells)):
            if "nbval-check-output" not in reference.metadata.get("tags", []):
                continue
            ref, test = coalesce_streams(reference.outputs), coalesce_streams(fresh.outputs)
            if not self.compare_outputs(test, ref):
                problems.append(f"cell {index} outputs differ (nbval):\n" + "\n".join(self.comparison_traceback))
        return problems
