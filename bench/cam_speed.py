"""How much does CAM for every ImageNet class cost on top of the forward pass it needs anyway?

Times, in one run and interleaved, (a) the bare forward pass of the ImageNet model
(EfficientNet-Lite0) on one 224 x 224 image and (b) ``helpers.cam.cam`` on the same
image: the same forward pass with a hook, plus the maps of all 1,000 classes in one
einsum (raw, 7 x 7), with and without the check that the logits are a linear function
of the pooled features. Prints the medians and their ratios; the goal (issue 7) is a
ratio of at most 1.1.

Run: ``.venv/bin/python bench/cam_speed.py [--device cpu|cuda] [--repeats 200]``.
"""

import argparse

import torch
from timing import interleaved, record

from helpers.cam import cam
from helpers.device import get_device, set_seed
from helpers.models import imagenet_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    device = get_device(args.device)
    set_seed(0)
    model = imagenet_model(device).model
    image = torch.rand(args.batch, 3, 224, 224, device=device)

    def forward():
        with torch.no_grad():
            model(image)

    def all_class_maps():
        cam(model, image)

    def unchecked():
        cam(model, image, check=False)

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.repeats} interleaved repeats")
    medians = interleaved({"forward": forward, "cam": all_class_maps, "cam, no check": unchecked}, args.repeats,
                          device, warmup=10)
    print(f"ratio cam / forward (medians): {medians['cam'] / medians['forward']:.3f}  (goal <= 1.1); "
          f"without the check: {medians['cam, no check'] / medians['forward']:.3f}")
    record("cam_speed", device, [("CAM of all 1,000 classes / bare forward pass", medians["cam"] / medians["forward"],
                                  "<= 1.1")],
           f"EfficientNet-Lite0, batch {args.batch} x 224, {args.repeats} repeats")


if __name__ == "__main__":
    main()
