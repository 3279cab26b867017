"""Class activation maps (Zhou et al., CVPR 2016, "Learning Deep Features for Discriminative Localization").

A network that ends in features ``f_k(x, y)`` (K maps on Z = h * w cells), global
average pooling and one linear layer (weights ``w_k^c``, bias ``b_c``) scores class c as

    S_c = sum_k w_k^c (1/Z) sum_{x,y} f_k(x, y) + b_c = (1/Z) sum_{x,y} M_c(x, y) + b_c,
    M_c(x, y) = sum_k w_k^c f_k(x, y),

so the logit is the spatial mean of the class activation map ``M_c`` plus the bias.
The paper pools with a sum (no 1/Z); torchvision, timm and the course pool with a
mean, so here the *mean* of the map plus the bias gives the logit. The bias is the
same at every position and says nothing about *where*: it is left out of the map
(as in the paper) and returned next to it.

The features are the map the classifier head reads (:mod:`helpers.layers`), so
CAM works on any network whose logits are an affine function of the spatial mean
of one feature map, whatever sits between (Dropout, Identity, Flatten, a
functional ``mean``, a ReLU before the pooling as in DenseNet), and names the
module that breaks it otherwise. Every class's map comes from one ``einsum`` over
the features and the weight matrix; the features are read by a forward hook on
that layer, removed in a ``finally`` block. Explained in 03_cam.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import find_head


class Cam(NamedTuple):
    """Raw class activation maps with what is needed to read them."""

    maps: torch.Tensor  #: (B, K, h, w): M_c on the feature grid, one per requested class
    bias: torch.Tensor  #: (B, K): b_c of each requested class, so maps.mean((2, 3)) + bias = logits of those classes
    logits: torch.Tensor  #: (B, classes): the model's output for the images
    classes: torch.Tensor  #: (B, K): the class index of each map


#: Modules that are the identity on a model in eval mode.
PASS_THROUGH = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                nn.FeatureAlphaDropout)


def _why_not_linear(step):
    """Why one module after the feature map keeps the logits from being affine in its spatial mean, or None."""
    cells = step.input[2:] if len(step.input) == 4 else ()
    if step.kind in {kind.__name__ for kind in PASS_THROUGH} or step.kind == "Linear":
        return None
    if step.kind == "Flatten":
        return None if all(n == 1 for n in cells) else (f"flattens a {' x '.join(map(str, cells))} map, so the "
                                                        f"next layer weighs each position on its own")
    if step.kind in ("AdaptiveAvgPool2d", "AvgPool2d"):
        return None if step.output[2:] == (1, 1) else f"pools to {step.output[2]} x {step.output[3]}, not globally"
    if "MaxPool" in step.kind:
        return "takes maxima, not means"
    return "is not linear"


def linear_head(model, images):
    """The feature map CAM reads and the affine map from its spatial mean to the logits.

    The head is what runs after the map the classifier head reads
    (:func:`helpers.layers.find_head`): global average pooling, then any number of
    ``nn.Linear`` layers with Dropout, Identity and Flatten between them (the
    identity in eval mode); several linear layers compose into one,
    ``W = W_n ... W_1``, ``b = W_n (... W_2 b_1 ...) + b_n``. Functional pooling
    (``x.mean((2, 3))``, ``F.adaptive_avg_pool2d``) is not a module and is checked
    numerically by :func:`cam`.

    Returns:
        ``(layer name, W (classes, K), b (classes,), first linear module)``.

    Raises:
        ValueError: a module after the map is not linear (named), or none is an ``nn.Linear``.
    """
    head = find_head(model, images)
    for step in head.after:
        why = _why_not_linear(step)
        if why is not None:
            raise ValueError(f"CAM needs logits that are an affine function of the spatial mean of one feature map "
                             f"(global average pooling, then linear layers); in {type(model).__name__}, after the "
                             f"map at {head.layer!r}, {step.name!r} ({step.kind}) {why}. Grad-CAM "
                             f"(helpers.gradcam.grad_cam) explains this network")
    linears = [model.get_submodule(step.name) for step in head.after if step.kind == "Linear"]
    if not linears:
        raise ValueError(f"CAM needs a linear layer that reads the pooled features; in {type(model).__name__} no "
                         f"nn.Linear runs after the map at {head.layer!r}. Grad-CAM (helpers.gradcam.grad_cam) "
                         f"explains this network")
    weight = linears[0].weight
    bias = linears[0].bias if linears[0].bias is not None else weight.new_zeros(weight.shape[0])
    for linear in linears[1:]:
        bias = linear.weight @ bias + (linear.bias if linear.bias is not None else 0)
        weight = linear.weight @ weight
    return head.layer, weight, bias, linears[0]


def check_finite(images):
    """Raise ``ValueError`` naming how many images hold NaN or infinity.

    One sum over the tensor decides (it is finite unless a value is not, or the
    values are near the float's largest); only then are the images counted.
    """
    if bool(torch.isfinite(images.sum())):
        return
    bad = int((~torch.isfinite(images)).flatten(1).any(dim=1).sum())
    if bad:
        raise ValueError(f"{bad} of the {images.shape[0]} images hold NaN or infinite values: every map would be NaN")


def check_images(model, images):
    """Raise unless ``images`` is a finite float (B, C, H, W) tensor and ``model`` is in eval mode."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a floating-point tensor, got {images.dtype}")
    check_finite(images)
    if model.training:
        raise ValueError("the model is in train mode (dropout and batch norm would change the maps at every call): "
                         "call model.eval()")


def check_classes(classes, batch, count, device):
    """Class indices as a (B, K) long tensor on ``device``; ``None`` means every class.

    Raises:
        TypeError: the indices are not integers.
        ValueError: the shape is not (B,) or (B, K), or an index is outside [0, count).
    """
    if classes is None:
        return torch.arange(count, device=device).expand(batch, count)
    classes = torch.as_tensor(classes, device=device)
    if classes.is_floating_point() or classes.is_complex() or classes.dtype == torch.bool:
        raise TypeError(f"classes must hold integer class indices, got {classes.dtype}")
    if classes.dim() == 1:
        classes = classes.unsqueeze(1)
    if classes.dim() != 2 or classes.shape[0] != batch:
        raise ValueError(f"classes must have shape (B,) or (B, K) with B = {batch}, got {tuple(classes.shape)}")
    if bool(((classes < 0) | (classes >= count)).any()):  # one read-back, also for classes on a GPU
        raise ValueError(f"class indices must be in [0, {count - 1}], got values in "
                         f"[{int(classes.min())}, {int(classes.max())}]")
    return classes.long()


def _pooled_map(features, pooled, layer):
    """The map whose spatial mean the first linear layer read: ``features``, or ReLU(features) after a functional ReLU."""
    tolerance = 1e-4 * float(pooled.abs().max()) + 1e-6
    for candidate in (features, features.clamp(min=0)):
        mean = candidate.mean(dim=(2, 3))
        if mean.shape == pooled.shape and float((mean - pooled).abs().max()) <= tolerance:
            return candidate
    raise ValueError(f"the first linear layer does not read the spatial mean of the map at {layer!r} (nor of its "
                     f"ReLU): not a global-average-pooling head, so CAM does not apply")


@torch.no_grad()
def cam(model, images, classes=None, check=True):
    """Class activation maps of ``images`` (B, C, H, W) for all classes or the given ones, in one forward pass.

    Args:
        model: a network whose logits are an affine function of the spatial mean
            of one feature map (global average pooling and linear layers: e.g.
            :class:`helpers.models.GapNet`, the ImageNet model, a torchvision ResNet,
            DenseNet or MobileNetV2), in eval mode.
        images: (B, C, H, W) float tensor on the model's device.
        classes: ``None`` for every class, or class indices of shape (B,) or (B, K).
        check: verify that the linear layer reads the map's spatial mean (or that
            of its ReLU, as after DenseNet's functional ReLU) and that
            ``mean(M_c) + b_c`` reproduces the model's logits; ``False`` trusts the
            head and takes the map as the layer left it.

    Returns:
        :class:`Cam` with ``maps`` (B, K, h, w) on the feature grid (see :func:`upsample`).

    Raises:
        ValueError: the model is in train mode, its head is not GAP + linear (the
            message names the module that breaks it), or the images hold NaN or
            infinity, or the images or classes have the wrong shape or range.
        TypeError: images or classes have the wrong dtype.
    """
    check_images(model, images)
    layer, weight, bias, first = linear_head(model, images)
    index = check_classes(classes, images.shape[0], weight.shape[0], images.device)
    captured = {}
    handles = [model.get_submodule(layer).register_forward_hook(lambda module, args, out: captured.setdefault("map", out)),
               first.register_forward_pre_hook(lambda module, args: captured.setdefault("pooled", args[0]))]
    try:
        logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    features = captured["map"]  # the tensor itself: after any in-place change the network made (DenseNet's ReLU)
    if features.shape[1] != weight.shape[1]:
        raise ValueError(f"the map at {layer!r} has {features.shape[1]} channels; the linear layer reads "
                         f"{weight.shape[1]}: not a GAP + linear head")
    if check:
        features = _pooled_map(features, captured["pooled"], layer)
    if classes is None:  # every class: one product with the whole weight matrix
        maps = torch.einsum("bchw,kc->bkhw", features, weight)
    else:
        maps = torch.einsum("bchw,bkc->bkhw", features, weight[index])
    if check:  # one comparison, read back once, after the maps are queued (no stall between GPU kernels)
        pooled = F.linear(features.mean(dim=(2, 3)), weight, bias)
        tolerance = 1e-4 * (pooled.abs() + logits.abs().amax()) + 1e-6
        if pooled.shape != logits.shape or bool(((pooled - logits).abs() > tolerance).any()):
            raise ValueError("the logits are not a linear function of the pooled features: something other than "
                             "linear layers follows the global average pooling, so CAM does not apply")
    return Cam(maps, bias[index], logits, index)


def upsample(maps, size):
    """Maps (B, K, h, w) resized to ``size`` (an int or (H, W)) by bilinear interpolation, as in the paper."""
    if maps.dim() != 4:
        raise ValueError(f"maps must have shape (B, K, h, w), got {tuple(maps.shape)}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
