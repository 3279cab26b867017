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
