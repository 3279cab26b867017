"""Grad-CAM against pytorch-grad-cam, torchcam and the floor, on the same work.

The work (issue 8): a batch of 16 images at 224 x 224, a torchvision ResNet-18 (seeded
random weights: the cost does not depend on the weights), target layer ``layer4``, one
class per image, and maps upsampled to 224 x 224 and rescaled to [0, 1]:

- ``helpers``: ``helpers.gradcam.grad_cam`` + ``cam.upsample`` + ``metrics.normalize_maps``;
- ``pytorch-grad-cam``: ``GradCAM(model, [model.layer4])(input_tensor, targets)`` (maps
  rescaled and resized with OpenCV, returned as NumPy), the object built once;
- ``torchcam``: ``GradCAM(model, "layer4")``, a forward pass, the extractor's normalised
  maps, upsampled with ``F.interpolate``, the object built once;
- ``floor``: ResNet-18's forward pass written out by hand, without autograd up to
  ``layer4``, then the head and the gradient of the class scores with respect to
  ``layer4``'s output, nothing else: Grad-CAM cannot cost less.

Also: the top-5 classes of every image, in one call (one forward, one batched backward)
against five single-class calls. All timings interleaved in one run; medians reported.

Run: ``.venv/bin/python bench/gradcam_speed.py [--device cpu|cuda] [--repeats 20]``.
"""

import argparse

import torch
import torch.nn.functional as F
from timing import interleaved, record
from torchvision.models import resnet18

from helpers.cam import upsample
from helpers.device import get_device, set_seed
from helpers.gradcam import grad_cam
from helpers.metrics import normalize_maps


#: How much slower each peer must be. torchcam 0.5 runs at the floor as ours does (one forward, one partial
#: backward), so no method can be 1.3 times faster than it: that bar is retired and its ratio only reported.
PEER_GOALS = (("pytorch-grad-cam", ">= 2.5"), ("torchcam", "report only (retired, issue 22)"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    device = get_device(args.device)
    set_seed(0)
    model = resnet18(num_classes=1000).eval().to(device)
    images = torch.rand(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        logits = model(images)
    classes = logits.argmax(dim=1)
    top5 = logits.topk(5, dim=1).indices

    def ours():
        normalize_maps(upsample(grad_cam(model, images, classes, layer="layer4").maps, 224))

    runs, closers = {"helpers": ours}, []
    try:  # the peers are optional (the bench extra): a missing one is left out of the table
        from pytorch_grad_cam import GradCAM as PeerGradCam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        peer = PeerGradCam(model=model, target_layers=[model.layer4])
        targets = [ClassifierOutputTarget(int(c)) for c in classes]
        runs["pytorch-grad-cam"] = lambda: peer(input_tensor=images, targets=targets)
        closers.append(lambda: peer.__exit__(None, None, None))
    except ImportError as error:
        print(f"pytorch-grad-cam left out: {error}")
    try:
        from torchcam.methods import GradCAM as TorchcamGradCam

        extractor = TorchcamGradCam(model, target_layer="layer4")

        def torchcam():
            maps = extractor(class_idx=classes.tolist(), scores=model(images))[0]
            F.interpolate(maps.unsqueeze(1), size=224, mode="bilinear", align_corners=False)

        runs["torchcam"] = torchcam
        closers.append(extractor.remove_hooks)
    except ImportError as error:
        print(f"torchcam left out: {error}")

    trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2,
                                model.layer3, model.layer4)

    def floor():  # ResNet-18 by hand: no graph up to layer4, then the head and the gradient at layer4
        with torch.no_grad():
            features = trunk(images)
        features.requires_grad_(True)
        scores = model.fc(torch.flatten(model.avgpool(features), 1)).gather(1, classes.unsqueeze(1))
        torch.autograd.grad(scores.sum(), features)

    def ours_top5():
        normalize_maps(upsample(grad_cam(model, images, top5, layer="layer4").maps, 224))

    def five_calls():
        for k in range(5):
            normalize_maps(upsample(grad_cam(model, images, top5[:, k], layer="layer4").maps, 224))

    runs.update({"floor": floor, "helpers, top-5 in one call": ours_top5, "helpers, top-5 as 5 calls": five_calls})
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, ResNet-18 layer4, "
          f"batch {args.batch} x 224 x 224, {args.repeats} interleaved repeats")
    try:
        medians = interleaved(runs, args.repeats, device)
    finally:
        for close in closers:
            close()
    for peer_name, goal in PEER_GOALS:
        if peer_name in medians:
            print(f"{peer_name + ' / helpers:':28s}{medians[peer_name] / medians['helpers']:.2f}x  (goal {goal})")
    print(f"{'helpers / floor:':28s}{medians['helpers'] / medians['floor']:.3f}  (goal <= 1.10)")
    print(f"{'top-5, 5 calls / one call:':28s}"
          f"{medians['helpers, top-5 as 5 calls'] / medians['helpers, top-5 in one call']:.2f}x")
    ratios = [(f"Grad-CAM: {peer} / helpers", medians[peer] / medians["helpers"], goal)
              for peer, goal in PEER_GOALS if peer in medians]
    ratios += [("Grad-CAM: helpers / floor (forward + gradient at the layer)", medians["helpers"] / medians["floor"],
                "<= 1.10"),
               ("Grad-CAM top-5: 5 calls / 1 call", medians["helpers, top-5 as 5 calls"]
                / medians["helpers, top-5 in one call"], "-")]
    record("gradcam_speed", device, ratios,
           f"ResNet-18 layer4, batch {args.batch} x 224, maps upsampled and normalised, {args.repeats} repeats")


if __name__ == "__main__":
    main()
