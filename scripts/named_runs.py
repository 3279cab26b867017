"""The command line shared by scripts/run_seeds.py and scripts/make_checkpoints.py: run the named jobs, or all."""

import sys
import time


def run_named(jobs, kind, argv=None):
    """Run ``jobs[name]()`` for each name on the command line (every job when none is given), timing each.

    Each job returns a short line saying what it wrote; an unknown name stops the script before anything runs.
    """
    names = (sys.argv[1:] if argv is None else argv) or list(jobs)
    unknown = [name for name in names if name not in jobs]
    if unknown:
        sys.exit(f"unknown {kind}(s) {unknown}; choose from {list(jobs)}")
    for name in names:
        start = time.perf_counter()
        summary = jobs[name]()
        print(f"{name}: {summary} ({time.perf_counter() - start:.0f} s)")
