"""How many masks does a RISE map need? Correlation with an independent N = 8000 map, on the photos.

For each photo (EfficientNet-Lite0, its predicted class, s = 7, p = 0.5) a reference map
from 8000 masks (seed 1000) and maps from N = 250 ... 16000 masks (seed 0, independent of
the reference); Pearson correlation of each with the reference, averaged over the photos.
Reported: the smallest N whose mean correlation passes 0.95. The reference's own noise
caps the correlation below 1. Then the paper's deletion and insertion areas (224 pixels per
step) of the reference maps and of Grad-CAM (last convolution), averaged over the photos.

Run: ``.venv/bin/python bench/rise_convergence.py [--device cpu|cuda] [--weights PATH]``.
"""

import argparse

from helpers import cam, data, gradcam, metrics, models, rise
from helpers.device import get_device

COUNTS = (250, 500, 1000, 2000, 4000, 8000, 16000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--weights", default=None, help="EfficientNet-Lite0 weights file (default: the package's)")
    parser.add_argument("--batch-size", type=int, default=250)
    args = parser.parse_args()
    device = get_device(args.device)
    pretrained = models.imagenet_model(device, weights=args.weights)
    photos = data.load_photos(pretrained.normalization)
    images = photos.images.to(device)
    options = {"batch_size": args.batch_size, "progress": False}
    reference = rise.rise(pretrained.model, images, masks=8000, seed=1000, **options)
    print(f"device {device}, {len(images)} photos, EfficientNet-Lite0, s = 7, p = 0.5, reference N = 8000 (seed 1000)")
    passed = None
    for count in COUNTS:
        maps = rise.rise(pretrained.model, images, reference.classes, masks=count, seed=0, **options).maps
        correlations = metrics.map_correlation(maps, reference.maps).tolist()
        mean = sum(correlations) / len(correlations)
        passed = passed or (count if mean >= 0.95 else None)
        print(f"N = {count:5d}: mean correlation {mean:.3f} (min {min(correlations):.3f}, "
              f"max {max(correlations):.3f})")
    print(f"smallest N with mean correlation >= 0.95: {passed or 'none of those tried'}")
    grad_maps = cam.upsample(gradcam.grad_cam(pretrained.model, images, reference.classes).maps, 224)[:, 0]
    for name, maps in (("RISE, N = 8000", reference.maps[:, 0]), ("Grad-CAM, conv_head", grad_maps)):
        areas = {mode: metrics.causal_curves(pretrained.model, images, maps, mode, step=224, batch_size=512,
                                             progress=False).auc for mode in ("deletion", "insertion")}
        print(f"{name:20s} deletion AUC {areas['deletion'].mean():.4f}, insertion AUC {areas['insertion'].mean():.4f}"
              f" (mean of {len(images)} photos; per photo deletion "
              f"{', '.join(f'{a:.3f}' for a in areas['deletion'].tolist())})")


if __name__ == "__main__":
    main()
