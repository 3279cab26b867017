"""Interleaved timing for the benchmarks: every run once per round, so drifts of the machine hit all alike."""

import statistics
import time

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
