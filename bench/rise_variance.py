"""RISE with fewer masks: how many masks each way of drawing and averaging them needs for the same map.

The bar of issue 22: the correlation with an independent many-mask map that the paper's
RISE reaches (0.95), with at most half the masks. For each variant -- the paper's
(independent masks, weighted sum), ``estimator="centred"`` (a control variate),
``sampling="complementary"`` (pairs M, 1 - M) and both -- maps from N = 100 ... 4000 masks
(seeds 0, 1, 2) are compared with a reference of 8000 paper masks (seed 1000): Pearson
correlation per image, averaged over images and seeds. Reported per variant: the smallest
N whose mean correlation passes 0.95, and the ratio of that N to the paper's (goal <= 0.5);
then the deletion and insertion AUC of each variant's maps at N = 500 (no worse than the
paper's at equal N is the second half of the bar).

Shapes: lesson 02's GAP network (the stored checkpoint) on the first 32 test shapes, true
class, 64 x 64, s = 7, p = 0.5, probability scores; this is the CPU part of the issue. The
photos with EfficientNet-Lite0 (``--photos``) cost 33 ms a mask on 2 CPU cores: for a GPU.

Run: ``.venv/bin/python bench/rise_variance.py [--device cpu|cuda] [--images 32] [--photos]``.
"""

import argparse

import torch
from timing import record

from helpers import checkpoints, data, metrics, models, rise
from helpers.device import get_device, set_seed

COUNTS = (100, 250, 500, 1000, 2000, 4000)  # even: complementary masks come in pairs
VARIANTS = {"paper": {}, "centred": {"estimator": "centred"}, "complementary": {"sampling": "complementary"},
            "complementary + centred": {"estimator": "centred", "sampling": "complementary"}}
SEEDS = (0, 1, 2)
TARGET = 0.95


def correlation(maps, reference):
    """Pearson correlation of each map with its reference, (B,)."""
    a, b = maps.flatten(1), reference.flatten(1)
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp(min=1e-12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--photos", action="store_true", help="the nine photos and EfficientNet-Lite0 instead")
    parser.add_argument("--batch-size", type=int, default=250)
    args = parser.parse_args()
    set_seed(0)
    device = get_device(args.device)
    if args.photos:
        pretrained = models.imagenet_model(device)
        model, images = pretrained.model, data.load_photos(pretrained.normalization).images[:args.images].to(device)
        with torch.no_grad():
            classes = model(images).argmax(dim=1)
        name = f"{len(images)} photos, EfficientNet-Lite0, predicted class"
    else:
        test = checkpoints.shapes_gap_test_set()
        model, images, classes = checkpoints.load_shapes_gap(device), test.images[:args.images].to(device), \
            test.labels[:args.images].to(device)
        name = f"{len(images)} shapes, lesson 02's GAP network, true class"
    options = {"batch_size": args.batch_size, "progress": False}
    column = classes.view(-1, 1)
    reference = rise.rise(model, images, column, masks=8000, seed=1000, **options).maps[:, 0]
    print(f"{name}; device {device}; reference: 8000 paper masks (seed 1000); seeds {SEEDS}")
    needed, at_500 = {}, {}
    for variant, choice in VARIANTS.items():
        line = []
        for count in COUNTS:
            runs = [rise.rise(model, images, column, masks=count, seed=seed, **choice, **options).maps[:, 0]
                    for seed in SEEDS]
            mean = torch.stack([correlation(maps, reference) for maps in runs]).mean().item()
            line.append(f"{count}: {mean:.3f}")
            if mean >= TARGET and variant not in needed:
                needed[variant] = count
            if count == 500:
                at_500[variant] = runs[0]
        print(f"{variant:24s} mean correlation at N = " + ", ".join(line))
    ratios = []
    for variant in VARIANTS:
        found = needed.get(variant)
        print(f"{variant:24s} smallest N with mean correlation >= {TARGET}: {found or 'none of those tried'}")
        if variant != "paper" and found and "paper" in needed:
            ratios.append((f"RISE masks for correlation {TARGET}: {variant} / paper ({name})",
                           found / needed["paper"], "<= 0.5"))
    for variant, maps in at_500.items():
        areas = {mode: metrics.causal_curves(model, images, maps, mode, step=64 if not args.photos else 224,
                                             batch_size=512, classes=classes, progress=False).auc.mean().item()
                 for mode in ("deletion", "insertion")}
        print(f"{variant:24s} N = 500, seed 0: deletion AUC {areas['deletion']:.4f}, "
              f"insertion AUC {areas['insertion']:.4f}")
    record("rise_variance" + ("_photos" if args.photos else ""), device, ratios,
           f"{name}; N in {COUNTS}, seeds {SEEDS}, reference 8000 paper masks; s = 7, p = 0.5")


if __name__ == "__main__":
    main()
