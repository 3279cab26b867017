"""helpers.benchmarks: the stored bench/ ratios that the lessons print."""

import json

import pytest

from helpers import benchmarks


def test_every_stored_ratio_is_read_with_its_machine():
    rows = benchmarks.speed_ratios("rise_speed", "augmented_speed")
    stored = [json.loads(path.read_text()) for script in ("rise_speed", "augmented_speed")
              for path in sorted(benchmarks.RESULTS_DIR.glob(f"{script}--*.json"))]
    assert len(rows) == sum(len(result["ratios"]) for result in stored) > 0
    assert [(row["machine"], row["ratio"]) for row in rows] == [(result["machine"], ratio["value"])
                                                                 for result in stored for ratio in result["ratios"]]
    assert all(isinstance(row["ratio"], float) and row["ratio"] > 0 for row in rows)


def test_a_script_without_results_is_named():
    with pytest.raises(FileNotFoundError, match="bench/no_such_bench.py"):
        benchmarks.speed_ratios("no_such_bench")


def _bench_module(name):
    """A script of bench/ imported as a module (bench/ is not a package: its scripts import each other by name)."""
    import importlib
    import sys

    folder = str(benchmarks.RESULTS_DIR.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def test_masks_needed_interpolates_in_log_n():
    needed = _bench_module("rise_variance").masks_needed
    assert needed((128, 256, 512), (0.90, 0.94, 0.96), 0.95) == pytest.approx(256 * 2 ** 0.5)  # halfway in log N
    assert needed((128, 256), (0.96, 0.97), 0.95) == 128  # the first count already passes
    assert needed((128, 256), (0.5, 0.6), 0.95) is None  # never reached


def test_write_section_replaces_only_between_its_markers(tmp_path, monkeypatch):
    timing = _bench_module("timing")
    monkeypatch.setattr(timing, "RESULTS", tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- demo: begin (made by bench/demo.py) -->\nold\n<!-- demo: end -->\nbottom\n")
    timing.write_section("demo", "| new |")
    assert readme.read_text() == "top\n<!-- demo: begin (made by bench/demo.py) -->\n| new |\n<!-- demo: end -->\nbottom\n"
    with pytest.raises(ValueError, match="lacks the markers"):
        timing.write_section("other", "x")
