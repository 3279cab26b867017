"""Augmented Grad-CAM: the whole method against its L batched Grad-CAMs, and the solver's quality.

The work (issue 9): one image at 224 x 224, L = 32 views, a torchvision ResNet-18 (seeded
random weights, so the map itself means nothing: the cost does not depend on the weights),
target ``layer4`` (7 x 7):

- ``grad-cams``: the L warped copies and their Grad-CAMs in one batched call
  (``augmented.grad_cam_views``): the part the method cannot skip;
- ``whole method``: ``augmented.augmented_grad_cam`` with its defaults (L-BFGS, 100
  iterations at most, on a 56 x 56 grid, upsampled to 224).

Goal: the whole method at most 2 times the Grad-CAMs alone. Then the quality of the
solver on the same problem: its final objective against a long Adam run (5,000 steps, rate
1e-2), where the authors' settings (Adam, rate 1e-3, 200 steps) get to, and how the coarse
grid's solution, upsampled, scores on the full 224 x 224 problem. Medians of interleaved
runs.

Run: ``.venv/bin/python bench/augmented_speed.py [--device cpu|cuda] [--repeats 10]``.
"""

import argparse

import torch
from timing import interleaved, record
from torchvision.models import resnet18

from helpers import augmented
from helpers.device import get_device, set_seed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--views", type=int, default=32)
    args = parser.parse_args()
    device = get_device(args.device)
    set_seed(0)
    model = resnet18(num_classes=1000).eval().to(device)
    image = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        target = model(image).argmax(dim=1)
    warps = augmented.sample_augmentations(args.views)

    def views_only():
        augmented.grad_cam_views(model, image, target, warps, layer="layer4")

    def whole():
        augmented.augmented_grad_cam(model, image, target, views=args.views, layer="layer4", progress=False)

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, ResNet-18 layer4, "
          f"1 x 224 x 224, L = {args.views}, {args.repeats} interleaved repeats")
    medians = interleaved({"grad-cams": views_only, "whole method": whole}, args.repeats, device)
    ratio = medians["whole method"] / medians["grad-cams"]
    print(f"{'whole / grad-cams:':28s}{ratio:.2f}x  (goal <= 2); solver's share of the whole: "
          f"{1 - medians['grad-cams'] / medians['whole method']:.0%}")

    result = augmented.augmented_grad_cam(model, image, target, views=args.views, layer="layer4", progress=False)
    side = result.solution.shape[-1]
    lam, mu = augmented.grid_weights(args.views, 224, side)
    final = augmented.objective(result.solution, result.views, warps, lam, mu).item()
    _, long_run = augmented.solve(result.views, warps, side, lam, mu, 5000, solver="adam", lr=1e-2)
    _, authors = augmented.solve(result.views, warps, side, lam, mu, 200, solver="adam", lr=1e-3)
    full_lam, full_mu = augmented.grid_weights(args.views, 224, 224)
    _, authors_224 = augmented.solve(result.views, warps, 224, full_lam, full_mu, 200, solver="adam", lr=1e-3)
    best = min(long_run)
    print(f"objective on the {side} x {side} grid: L-BFGS {final:.4f} ({len(result.objective)} evaluations), "
          f"5,000 Adam steps {best:.4f}: gap {final / best - 1:+.2%}  (goal within 1 %)")
    at_224, history_224 = augmented.solve(result.views, warps, 224, full_lam, full_mu, 300)
    upsampled = augmented.objective(result.map, result.views, warps, full_lam, full_mu).item()
    pair = torch.stack([result.map.flatten(), at_224.flatten()])
    print(f"solving on the 224 x 224 grid instead (L-BFGS, 300 iterations): objective {history_224[-1]:.4f}; the "
          f"{side} x {side} solution upsampled scores {upsampled:.4f} there ({upsampled / history_224[-1] - 1:+.1%}); "
          f"correlation of the two maps {torch.corrcoef(pair)[0, 1].item():.3f}")
    print(f"the authors' Adam (lr 1e-3, 200 steps from zeros): {authors[-1]:.4f} on the {side} x {side} grid "
          f"({authors[-1] / best - 1:+.0%}); at 224 x 224 from {authors_224[0]:.4f} to {authors_224[-1]:.4f}")
    record("augmented_speed", device,
           [("Augmented Grad-CAM: whole method / its L batched Grad-CAMs", ratio, "<= 2"),
            ("Augmented Grad-CAM: L-BFGS objective / best of 5,000 Adam steps", final / best, "<= 1.01")],
           f"ResNet-18 layer4, 1 x 224, L = {args.views}, {args.repeats} repeats")


if __name__ == "__main__":
    main()
