"""Grad-CAM agrees with pytorch-grad-cam (PyPI grad-cam) and torchcam on the same models and inputs.

torchcam returns the raw map (``normalized=False``): compared with ours relative to the
map's own scale (1e-5). pytorch-grad-cam only returns maps rescaled by
``(x - min) / (max + 1e-7)`` and resized with OpenCV: ours go through the same steps
(rescale on the grid, bilinear upsampling, rescale) and must agree to 1e-4, on images
whose raw map is not tiny (with random weights some maps are ~1e-11, where the 1e-7
of their rescaling turns the map into noise).
"""

import pytest
import torch
from torchvision.models import resnet18

from helpers.cam import upsample
from helpers.device import set_seed
from helpers.gradcam import grad_cam
from helpers.metrics import normalize_maps


@pytest.fixture(scope="module")
def resnet():
    set_seed(0)
    return resnet18(num_classes=1000).eval()


def cases(imagenet, photos, resnet):
    generator = torch.Generator().manual_seed(0)
    return [
        (resnet, "layer4", torch.rand(4, 3, 224, 224, generator=generator), torch.tensor([3, 500, 999, 0])),
        (imagenet.model, "conv_head", photos.images[:4], torch.tensor([285, 967, 872, 665])),
    ]


def test_raw_maps_equal_torchcam(imagenet, photos, resnet):
    torchcam_methods = pytest.importorskip("torchcam.methods")
    for model, layer, images, classes in cases(imagenet, photos, resnet):
        ours = grad_cam(model, images, classes, layer=layer).maps[:, 0]
        extractor = torchcam_methods.GradCAM(model, target_layer=layer)
        try:
            scores = model(images)
            theirs = extractor(class_idx=classes.tolist(), scores=scores, normalized=False)[0]
        finally:
            extractor.remove_hooks()
        scale = ours.flatten(1).amax(dim=1).clamp(min=1e-30).view(-1, 1, 1)
        assert torch.allclose(ours / scale, theirs.detach() / scale, atol=1e-5), layer


def test_normalised_upsampled_maps_equal_pytorch_grad_cam(imagenet, photos, resnet):
    pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    for model, layer, images, classes in cases(imagenet, photos, resnet):
        ours = grad_cam(model, images, classes, layer=layer).maps
        with pytorch_grad_cam.GradCAM(model=model, target_layers=[model.get_submodule(layer)]) as method:
            theirs = torch.from_numpy(method(input_tensor=images,
                                             targets=[ClassifierOutputTarget(int(c)) for c in classes]))
        shown = normalize_maps(upsample(normalize_maps(ours), images.shape[-2:]))[:, 0]
        usable = ours.flatten(1).amax(dim=1) > 1e-4
        assert usable.sum() >= 3, layer
        assert (shown[usable] - theirs[usable]).abs().max() < 1e-4, layer
