"""What the checks of issue 18 cost: refusing non-finite images, and tracing the model for its default layer.

Times, in one run and interleaved:

- Grad-CAM (ResNet-18, seeded random weights, batch 16 x 224, default layer ``layer4``)
  and CAM (EfficientNet-Lite0 for all 1,000 classes, batch 1 x 224), each with the
  finite-input check and with it switched off (today's code without the check):
  the ratio is the check's share of the call;
- the check alone on the Grad-CAM batch, in milliseconds;
- the trace that finds the default layer: its first call on a model (one forward
  pass of one image, with a hook on every module) against the later, cached calls,
  as a share of one Grad-CAM call.

Run: ``.venv/bin/python bench/input_checks.py [--device cpu|cuda] [--repeats 20]``.
"""

import argparse
from unittest import mock

import torch
from timing import interleaved, record, timed
from torchvision.models import resnet18

from helpers import cam as cam_module
from helpers import layers
from helpers.cam import cam, check_finite
from helpers.device import get_device, set_seed
from helpers.gradcam import grad_cam
from helpers.models import imagenet_model


def with_check(fn, check):
    """``fn`` run with the finite-input check on (``check``) or off; both through one patch, so they cost the same."""
    def run():
        with mock.patch.object(cam_module, "check_finite", check_finite if check else lambda images: None):
            fn()
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    device = get_device(args.device)
    set_seed(0)
    resnet = resnet18(num_classes=1000).eval().to(device)
    batch = torch.rand(16, 3, 224, 224, device=device)
    classes = torch.randint(0, 1000, (16,), device=device)
    lite = imagenet_model(device).model
    image = torch.rand(1, 3, 224, 224, device=device)

    def gradcam_call():
        grad_cam(resnet, batch, classes)

    def cam_call():
        cam(lite, image)

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.repeats} interleaved repeats")
    medians = interleaved({"Grad-CAM, checked": with_check(gradcam_call, True),
                           "Grad-CAM, unchecked": with_check(gradcam_call, False),
                           "CAM, checked": with_check(cam_call, True),
                           "CAM, unchecked": with_check(cam_call, False),
                           "check alone, 16 x 224": lambda: check_finite(batch)}, args.repeats, device, warmup=3)
    gradcam_ratio = medians["Grad-CAM, checked"] / medians["Grad-CAM, unchecked"]
    cam_ratio = medians["CAM, checked"] / medians["CAM, unchecked"]
    print(f"Grad-CAM checked / unchecked: {gradcam_ratio:.3f}; CAM checked / unchecked: {cam_ratio:.3f} "
          f"(goal: <= 1.01, negligible); the check alone: {1e3 * medians['check alone, 16 x 224']:.2f} ms "
          f"for 16 images")

    firsts = []
    for _ in range(5):  # the trace on a model it has not seen: drop the cache, then one call
        layers._CACHE.clear()
        firsts.append(timed(lambda: layers.find_head(resnet, batch), device))
    cached = min(timed(lambda: layers.find_head(resnet, batch), device) for _ in range(20))
    first = sorted(firsts)[len(firsts) // 2]
    share = first / medians["Grad-CAM, unchecked"]
    print(f"default layer: first call {1e3 * first:.1f} ms ({share:.3f} of one Grad-CAM call of 16 images), "
          f"cached {1e6 * cached:.0f} us")
    record("input_checks", device,
           [("Grad-CAM with the finite-input check / without", gradcam_ratio, "<= 1.01"),
            ("CAM with the finite-input check / without", cam_ratio, "<= 1.01"),
            ("default layer's trace, first call / one Grad-CAM call", share, "-")],
           f"Grad-CAM: ResNet-18, batch 16 x 224; CAM: EfficientNet-Lite0, batch 1 x 224; {args.repeats} repeats; "
           f"check alone {1e3 * medians['check alone, 16 x 224']:.2f} ms / 16 images; trace first call "
           f"{1e3 * first:.1f} ms, cached {1e6 * cached:.0f} us")


if __name__ == "__main__":
    main()
