"""Channels-last against the default layout: what computing inference channels-last buys.

``helpers.models`` computes inference channels-last (``torch.channels_last``): the
lesson networks' backbone turns its input to that layout in eval mode, and
EfficientNet-Lite0's weights are stored in it (the convolutions then compute every
activation in that layout). This script times, in one run and interleaved, each
model both ways on the same inputs (the default layout: a deep copy whose backbone
skips the conversion, or whose weights are turned back to ``torch.contiguous_format``):

- a forward pass of the lessons' GAP network (width 8) on 256 images of 64 x 64
  (RISE's masked batches are like it);
- Grad-CAM of that network on 256 images at its last convolution;
- a forward pass of EfficientNet-Lite0 on 16 photos of 224 x 224;
- Grad-CAM of EfficientNet-Lite0 on those 16 photos.

The ratio is default / channels-last (above 1: channels-last is faster), and the
largest difference of the outputs shows the numbers are the same to float rounding.

Run: ``.venv/bin/python bench/layout.py [--device cpu|cuda] [--threads N] [--repeats 10]``.
"""

import argparse
import copy
import types

import torch
from timing import interleaved, record
from torch import nn

from helpers.data import SHAPE_CLASSES
from helpers.device import get_device, set_seed
from helpers.gradcam import grad_cam
from helpers.models import GapNet, imagenet_model


def both_layouts(model):
    """The model as helpers makes it (channels-last inference) and a copy that computes in the default layout."""
    default = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    if hasattr(default, "backbone"):  # a lesson network: its backbone without the eval-mode conversion
        default.backbone.forward = types.MethodType(nn.Sequential.forward, default.backbone)
    return {"channels-last": model, "default": default}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    set_seed(0)
    small = both_layouts(GapNet(len(SHAPE_CLASSES), width=8).eval().to(device))
    lite = both_layouts(imagenet_model(device).model)
    shapes = torch.rand(256, 3, 64, 64, device=device)
    shape_classes = torch.randint(0, len(SHAPE_CLASSES), (256,), device=device)
    photos = torch.rand(16, 3, 224, 224, device=device)
    classes = torch.randint(0, 1000, (16,), device=device)

    with torch.no_grad():
        differences = {"GAP network": small["default"](shapes) - small["channels-last"](shapes),
                       "EfficientNet-Lite0": lite["default"](photos) - lite["channels-last"](photos)}
    runs = {}
    for layout in ("default", "channels-last"):
        runs[f"GAP forward 256, {layout}"] = torch.no_grad()(lambda m=small[layout]: m(shapes))
        runs[f"GAP Grad-CAM 256, {layout}"] = lambda m=small[layout]: grad_cam(m, shapes, shape_classes, "backbone.17")
        runs[f"Lite0 forward 16, {layout}"] = torch.no_grad()(lambda m=lite[layout]: m(photos))
        runs[f"Lite0 Grad-CAM 16, {layout}"] = lambda m=lite[layout]: grad_cam(m, photos, classes, "conv_head")

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.repeats} interleaved repeats")
    medians = interleaved(runs, args.repeats, device)
    ratios = []
    for name in ("GAP forward 256", "GAP Grad-CAM 256", "Lite0 forward 16", "Lite0 Grad-CAM 16"):
        ratio = medians[f"{name}, default"] / medians[f"{name}, channels-last"]
        print(f"{name}: default / channels-last {ratio:.3f}")
        ratios.append((f"layout: {name}, default / channels-last", ratio, ">= 1"))
    for name, difference in differences.items():
        print(f"{name}: largest output difference between the layouts {difference.abs().max().item():.2e}")
    record("layout", device, ratios,
           f"GAP network width 8: forward and Grad-CAM 256 x 64; EfficientNet-Lite0: forward and Grad-CAM "
           f"16 x 224; {args.repeats} repeats")


if __name__ == "__main__":
    main()
