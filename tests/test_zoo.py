"""Every convolutional classifier builder of torchvision: the default layer, Grad-CAM against torchcam, CAM on the
GAP + linear heads only, and RISE and Augmented Grad-CAM on one network of each family.

The weights are random. torchvision's own initialisation of the 4.5 billion weights of its 68 convolutional
builders takes about 50 s on one core, so the builders run here with ``torch.nn.init`` switched off and each
weight tensor is then filled from one seeded random block (uniform, scaled to He's variance 2 / fan_in; norm
weights near 1, biases near 0): the same networks with other random weights, built in a fraction of the time.
Each network sees one image at 64 px, the smallest size that leaves the last map of the stride-32 networks 2 x 2
(2 x 2 to 4 x 4 here: maps of more than one cell), and Inception-v3 at 107 px (75 px, its smallest, gives 1 x 1).

torchcam keeps a reference to the layer's output and differentiates the tensor it was when the hook saw it; where
the network then changes that tensor in place (DenseNet's ``F.relu(features, inplace=True)``), torchcam's
activations are the changed ones. Its run here therefore gets a clone of the layer's output passed on (a hook after
torchcam's), which is the same network without the in-place change: what our Grad-CAM computes on the original.
"""

import warnings
from contextlib import ExitStack, contextmanager
from unittest import mock

import pytest
import torch
from torch import nn
from torchvision import models

from helpers.augmented import augmented_grad_cam, warp
from helpers.cam import cam
from helpers.gradcam import grad_cam
from helpers.layers import find_head
from helpers.rise import rise

#: The default layer of each family (prefix of the builder's name); VGG and AlexNet: see :func:`expected_layer`.
LAYERS = {"resnet": "layer4", "resnext": "layer4", "wide_resnet": "layer4", "densenet": "features",
          "googlenet": "inception5b", "inception": "Mixed_7c", "mobilenet": "features", "efficientnet": "features",
          "convnext": "features", "mnasnet": "layers", "shufflenet": "conv5", "regnet": "trunk_output",
          "squeezenet": "classifier.2"}
#: Why CAM refuses the families whose head is not global average pooling + linear layers.
NOT_CAM = {"alexnet": "\\(MaxPool2d\\) takes maxima", "vgg": "\\(MaxPool2d\\) takes maxima",
           "squeezenet": "no nn.Linear runs after", "convnext": "\\(LayerNorm2d\\) is not linear",
           "mobilenet_v3": "\\(Hardswish\\) is not linear"}
CONVOLUTIONAL = [name for name in models.list_models(module=models) if not name.startswith(("vit", "swin", "maxvit"))]
#: The smallest member of each family, for the slower methods.
ONE_PER_FAMILY = ["alexnet", "vgg11", "resnet18", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "googlenet",
                  "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "efficientnet_v2_s",
                  "convnext_tiny", "mnasnet0_5", "shufflenet_v2_x0_5", "regnet_x_400mf", "squeezenet1_1"]

_BLOCK = torch.rand(2 * 1_000_003, generator=torch.Generator().manual_seed(0)) * 2 - 1  # a prime period, twice


@contextmanager
def _no_init():
    with ExitStack() as stack:
        for name in dir(nn.init):
            if name.endswith("_") and not name.startswith("_"):
                stack.enter_context(mock.patch.object(nn.init, name, lambda tensor, *args, **kwargs: tensor))
        yield


def build(name):
    """The builder's network with seeded random weights, in eval mode."""
    with _no_init(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GoogLeNet's and Inception's notes on their (here unused) initialisation
        model = models.get_model(name, weights=None)
    period, index = _BLOCK.numel() // 2, 0
    with torch.no_grad():
        for module in model.modules():
            for kind, parameter in module.named_parameters(recurse=False):
                flat, start, index = parameter.view(-1), index * 7919 % period, index + 1
                for done in range(0, flat.numel(), period):
                    take = min(period, flat.numel() - done)
                    flat[done:done + take] = _BLOCK[start:start + take]
                if parameter.dim() > 1:
                    flat.mul_((6 / (parameter.numel() // parameter.shape[0])) ** 0.5)
                else:  # a norm's scale near 1, a bias near 0
                    flat.mul_(0.1).add_(1.0 if kind == "weight" else 0.0)
    return model.eval()


def family(name, table):
    return next((table[prefix] for prefix in sorted(table, key=len, reverse=True) if name.startswith(prefix)), None)


def expected_layer(name, model):
    if name.startswith(("alexnet", "vgg")):  # the ReLU after the last convolution
        return f"features.{max(i for i, m in enumerate(model.features) if isinstance(m, nn.ReLU))}"
    return family(name, LAYERS)


def images_for(name, count):
    side = 107 if name.startswith("inception") else 64
    return torch.rand(count, 3, side, side, generator=torch.Generator().manual_seed(0))


def hooks_of(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def torchcam_raw(model, layer, images, classes):
    """torchcam's raw Grad-CAM at ``layer``, with the layer's output cloned after its hook (see the module's text)."""
    methods = pytest.importorskip("torchcam.methods")
    model.requires_grad_(False)  # torchcam differentiates the input here, not the weights: half the backward
    extractor = methods.GradCAM(model, target_layer=layer)
    handle = model.get_submodule(layer).register_forward_hook(lambda module, args, output: output.clone())
    try:
        scores = model(images.clone().requires_grad_(True))
        return extractor(class_idx=classes.tolist(), scores=scores, normalized=False)[0].detach()
    finally:
        handle.remove()
        extractor.remove_hooks()
        model.requires_grad_(True)


def test_the_sweep_covers_every_family():
    assert len(CONVOLUTIONAL) == 68  # torchvision 0.29's builders, transformers left out
    assert all(name.startswith(("alexnet", "vgg")) or family(name, LAYERS) for name in CONVOLUTIONAL)
    assert {family(name, LAYERS) or name[:3] for name in ONE_PER_FAMILY} >= set(LAYERS.values()) | {"ale", "vgg"}


@pytest.mark.parametrize("name", CONVOLUTIONAL)
def test_default_layer_grad_cam_and_cam(name):
    model = build(name)
    images, classes = images_for(name, 1), torch.tensor([7])
    layer = find_head(model, images).layer
    assert layer == expected_layer(name, model)
    assert {"vgg16": "features.29", "vgg16_bn": "features.42", "alexnet": "features.11"}.get(name, layer) == layer

    ours = grad_cam(model, images, classes)
    assert min(ours.maps.shape[-2:]) >= 2 and bool(torch.isfinite(ours.raw).all())
    assert all(p.grad is None for p in model.parameters()) and hooks_of(model) == 0
    theirs = torchcam_raw(model, layer, images, classes)
    scale = float(ours.raw.abs().max())  # the raw map's: it is not 0 where the ReLU leaves nothing
    assert scale > 0 and torch.allclose(ours.maps[:, 0], theirs, atol=1e-5 * scale), name

    refusal = family(name, NOT_CAM)
    if refusal is not None:
        with pytest.raises(ValueError, match=refusal):
            cam(model, images, classes)
    else:
        reference = cam(model, images, classes)
        assert torch.allclose(reference.maps.mean(dim=(2, 3)) + reference.bias,
                              reference.logits.gather(1, reference.classes), rtol=1e-4, atol=1e-4)
        if not name.startswith("densenet"):  # DenseNet's CAM reads ReLU(features), Grad-CAM explains features
            z = reference.maps.shape[-1] * reference.maps.shape[-2]
            assert torch.allclose(ours.raw, reference.maps / z, atol=1e-5 * float(reference.maps.abs().max()))
    assert hooks_of(model) == 0


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_rise_and_augmented_grad_cam_run_with_their_defaults(name):
    model = build(name)
    image = images_for(name, 1)
    side = image.shape[-1]
    saliency = rise(model, image, masks=200, progress=False).maps
    assert saliency.shape == (1, 1, side, side) and bool(torch.isfinite(saliency).all())
    assert float(saliency.std()) > 0
    result = augmented_grad_cam(model, image, progress=False)
    assert result.map.shape == (1, side, side) and bool(torch.isfinite(result.map).all())
    assert result.views.shape[:2] == (1, 32)
    copies = warp(image[:, None].expand(-1, 32, -1, -1, -1), result.augmentations)[0]
    plain = grad_cam(model, copies, result.classes.expand(32)).maps[:, 0]  # the copies' maps at the default layer
    assert torch.allclose(result.views[0], plain / plain.amax(dim=(1, 2), keepdim=True).clamp(min=1e-30), atol=1e-5)
    assert hooks_of(model) == 0


@pytest.mark.parametrize("name", ["vit_b_32"])
def test_vision_transformers_are_refused_with_a_clear_error(name):
    model = build(name)
    image = torch.rand(1, 3, 224, 224)
    for method in (grad_cam, cam):
        with pytest.raises(ValueError, match="sequences of tokens .* convolutional feature maps"):
            method(model, image)
    assert hooks_of(model) == 0


@pytest.mark.parametrize("name, layer", [("resnet18", "layer4.1.bn2"), ("resnet18", "layer4.1.conv2"),
                                         ("densenet121", "features.norm5"), ("vgg16", "features.28")])
def test_explicit_layers_followed_by_in_place_operations(name, layer):
    model = build(name)
    images, classes = images_for(name, 1), torch.tensor([3])
    ours = grad_cam(model, images, classes, layer=layer)  # bn2: a += residual sum follows; features.28: an in-place ReLU
    theirs = torchcam_raw(model, layer, images, classes)
    scale = float(ours.raw.abs().max())
    assert scale > 0 and torch.allclose(ours.maps[:, 0], theirs, atol=1e-5 * scale)
    assert all(p.grad is None for p in model.parameters()) and hooks_of(model) == 0
