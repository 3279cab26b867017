"""RISE against N bare forward passes (the floor of any black-box method) and against TorchRay's RISE.

The work (issue 10): N = 4000 masks, s = 7, p = 0.5, one 224 x 224 image, a torchvision
ResNet-18 (seeded random weights: the cost does not depend on them).

- ``floor``: N forward passes of ready-made (batch, 3, 224, 224) inputs, at the best batch
  size among those tried (nothing but the model is timed);
- ``helpers``: ``helpers.rise.rise`` at that batch size (masks made per batch, the
  masked inputs, the forwards, the softmax and the weighted sum of the masks);
- ``torchray``: ``torchray.attribution.rise.rise`` at that batch size (its own masks; it
  scores every class with a sigmoid), if installed;
- ``helpers, 4 images``: one call for 4 images sharing N / 4 masks (batch size / 4 masks per
  forward, so the forwards are as large), against one image with N / 4 masks.

Goals: helpers / floor <= 1.05; 4 images cost no more per image than one. TorchRay / helpers
is reported only: both run at the floor of N forward passes, so the old bar of 2 on a GPU is
retired (issue 22). Then the peak memory of N = 8000 against one batch of masks (CUDA's
allocator, or the process's peak RSS on a CPU, each in a fresh process). Medians of interleaved runs.

Run: ``.venv/bin/python bench/rise_speed.py [--device cpu|cuda] [--repeats 3] [--masks 4000]``.
"""

import argparse
import resource
import subprocess
import sys
from pathlib import Path

import torch
from timing import interleaved, record
from torchvision.models import resnet18

from helpers import rise
from helpers.device import get_device, set_seed


def setup(device):
    set_seed(0)
    model = resnet18(num_classes=1000).eval().to(device)
    images = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    return model, images


def floor_run(model, masks, batch_size, device):
    inputs = torch.rand(batch_size, 3, 224, 224, device=device)

    def run():
        with torch.no_grad():
            for start in range(0, masks, batch_size):
                model(inputs[:min(batch_size, masks - start)])

    return run


def peak_memory(device, masks, batch_size):
    """Peak bytes of one RISE call of ``masks`` masks, measured in this (fresh) process."""
    model, images = setup(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        rise.rise(model, images[:1], masks=masks, batch_size=batch_size, progress=False)
        return torch.cuda.max_memory_allocated(device)
    rise.rise(model, images[:1], masks=masks, batch_size=batch_size, progress=False)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--masks", type=int, default=4000)
    parser.add_argument("--batch-sizes", default=None, help="comma-separated; default 25,50,100 (CPU), 100,250,500,1000")
    parser.add_argument("--peak", type=int, default=None, help=argparse.SUPPRESS)  # child process: one call's peak
    parser.add_argument("--batch", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = get_device(args.device)
    if args.peak is not None:
        print(peak_memory(device, args.peak, args.batch))
        return
    model, images = setup(device)
    sizes = args.batch_sizes or ("25,50,100" if device.type == "cpu" else "100,250,500,1000")
    sizes = [int(size) for size in sizes.split(",")]
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), torch "
          f"{torch.__version__}, threads {torch.get_num_threads()}, ResNet-18, 224 x 224, N = {args.masks}, s = 7, "
          f"p = 0.5, {args.repeats} interleaved repeats")
    print(f"-- choosing the floor's batch size on N = {args.masks // 4}")
    sweep = interleaved({f"floor, batch {size}": floor_run(model, args.masks // 4, size, device) for size in sizes},
                        1, device, warmup=1)
    best = sizes[min(range(len(sizes)), key=lambda i: list(sweep.values())[i])]
    print(f"-- N = {args.masks}, batch size {best}")
    quarter = args.masks // 4
    runs = {"floor": floor_run(model, args.masks, best, device),
            "helpers": lambda: rise.rise(model, images[:1], masks=args.masks, batch_size=best, progress=False),
            "helpers, 1 image, N / 4": lambda: rise.rise(model, images[:1], masks=quarter, batch_size=best,
                                                         progress=False),
            "helpers, 4 images, N / 4": lambda: rise.rise(model, images, masks=quarter, batch_size=max(1, best // 4),
                                                          progress=False)}
    try:
        from torchray.attribution.rise import rise as torchray_rise

        runs["torchray"] = lambda: torchray_rise(model, images[:1], num_masks=args.masks, num_cells=7,
                                                 batch_size=best)
        if device.type == "cuda":  # a loop over the images, and its default batch of 32 masks
            runs["torchray, 4 images, N / 4"] = lambda: torchray_rise(model, images, num_masks=quarter, num_cells=7,
                                                                      batch_size=best)
            runs["torchray, default batch 32"] = lambda: torchray_rise(model, images[:1], num_masks=args.masks,
                                                                       num_cells=7)
    except ImportError:
        print("torchray is not installed: its row is left out")
    medians = interleaved(runs, args.repeats, device, warmup=args.warmup)
    print(f"helpers / floor:                  {medians['helpers'] / medians['floor']:.3f}  (goal <= 1.05)")
    print(f"4 images, per image / one image:  "
          f"{medians['helpers, 4 images, N / 4'] / 4 / medians['helpers, 1 image, N / 4']:.3f}  "
          f"(goal <= 1)")
    if "torchray" in medians:
        print(f"torchray / helpers:               {medians['torchray'] / medians['helpers']:.3f}  "
              f"(reported only)")
        print(f"torchray / floor:                 {medians['torchray'] / medians['floor']:.3f}")
    if "torchray, 4 images, N / 4" in medians:
        print(f"4 images: torchray / helpers:     "
              f"{medians['torchray, 4 images, N / 4'] / medians['helpers, 4 images, N / 4']:.3f}")
        print(f"torchray at batch 32 / helpers:   {medians['torchray, default batch 32'] / medians['helpers']:.3f}")
    ratios = [("RISE: helpers / N bare forward passes", medians["helpers"] / medians["floor"], "<= 1.05"),
              ("RISE: 4 images sharing the masks, per image / 1 image",
               medians["helpers, 4 images, N / 4"] / 4 / medians["helpers, 1 image, N / 4"], "<= 1")]
    if "torchray" in medians:
        ratios.append(("RISE: TorchRay / helpers, same batch", medians["torchray"] / medians["helpers"],
                       "report only (retired, issue 22)"))
    if "torchray, default batch 32" in medians:
        ratios.append(("RISE: TorchRay at its batch 32 / helpers", medians["torchray, default batch 32"]
                       / medians["helpers"], "report only (retired, issue 22)"))
    record("rise_speed", device, ratios, f"ResNet-18, 1 x 224, N = {args.masks}, batch {best}, "
                                         f"{args.repeats} repeats")
    script = str(Path(__file__).resolve())
    peaks = {}
    for masks in (best, 8000):  # one batch of masks, and 8000 in batches
        answer = subprocess.run([sys.executable, script, "--device", str(device), "--peak", str(masks), "--batch",
                                 str(best)], capture_output=True, text=True, check=True)
        peaks[masks] = int(answer.stdout.split()[-1])
    kind = "CUDA allocator peak" if device.type == "cuda" else "peak RSS of the process"
    print(f"{kind}: N = {best} (one batch) {peaks[best] / 2**20:.0f} MiB, N = 8000 {peaks[8000] / 2**20:.0f} MiB "
          f"(batch {best})")


if __name__ == "__main__":
    main()
