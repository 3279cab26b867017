"""Interleaved timing for the benchmarks: every run once per round, so drifts of the machine hit all alike."""

import datetime
import json
import platform
import re
import statistics
import time
from pathlib import Path

import torch


def timed(fn, device):
    """Wall time of one call of ``fn``, waiting for the GPU before and after on CUDA."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(runs, repeats, device, warmup=2):
    """Time each of ``runs`` (name -> function) ``repeats`` times, interleaved; print and return the medians."""
    for _ in range(warmup):  # allocator, kernels, caches
        for fn in runs.values():
            fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn, device))
    medians = {name: statistics.median(values) for name, values in times.items()}
    width = max(len(name) for name in runs) + 2
    for name, values in times.items():
        print(f"{name:{width}s} median {1e3 * medians[name]:9.2f} ms  (min {1e3 * min(values):.2f}, "
              f"max {1e3 * max(values):.2f})")
    return medians


# ---------------------------------------------------------------- results for bench/summary.py
RESULTS = Path(__file__).resolve().parent / "results"


def machine(device):
    """The machine in words: the GPU's name, or the CPU's model and the threads torch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {torch.get_num_threads()} threads"


def result_path(bench, name):
    """``bench/results/<bench>--<machine slug>.json`` for the machine called ``name`` (folder made if needed)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / f"{bench}--{slug}.json"


def record(bench, device, ratios, settings, **details):
    """Write ``bench/results/<bench>--<machine>.json`` for bench/summary.py; return its path.

    ``ratios``: a list of ``(comparison, value, goal)`` with ``goal`` a string such as ``"<= 1.1"``;
    ``settings``: what was measured (batch, model, repeats ...), in words; ``details``: more
    JSON-ready keys for the lessons that quote the run (e.g. whole curves).
    """
    name = machine(device)
    path = result_path(bench, name)
    path.write_text(json.dumps({
        "bench": bench, "machine": name, "device": device.type, "torch": torch.__version__, "date": datetime.date.today().isoformat(),
        "settings": settings, "source": "measured by this script",
        "ratios": [{"comparison": c, "value": round(float(v), 3), "goal": g} for c, v, g in ratios], **details,
    }, indent=2) + "\n")
    print(f"recorded in {path.relative_to(RESULTS.parent.parent)}")
    return path


def write_section(bench, body):
    """Replace what stands between ``bench``'s markers in bench/README.md (``<!-- <bench>: begin (made by
    bench/<bench>.py) -->`` and ``<!-- <bench>: end -->``) with ``body``; raise if the markers are missing."""
    readme = RESULTS.parent / "README.md"
    begin, end = f"<!-- {bench}: begin (made by bench/{bench}.py) -->", f"<!-- {bench}: end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"bench/README.md lacks the markers {begin!r} and {end!r}")
    head, rest = text.split(begin, 1)
    readme.write_text(f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}")
