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

Every class's map comes from one ``einsum`` over the features and the weight matrix;
the features are read by a forward hook on the pooling layer, removed in a
``finally`` block. Explained in 03_cam.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class Cam(NamedTuple):
    """Raw class activation maps with what is needed to read them."""

    maps: torch.Tensor  #: (B, K, h, w): M_c on the feature grid, one per requested class
    bias: torch.Tensor  #: (B, K): b_c of each requested class, so maps.mean((2, 3)) + bias = logits of those classes
    logits: torch.Tensor  #: (B, classes): the model's output for the images
    classes: torch.Tensor  #: (B, K): the class index of each map


def _is_global_average_pool(module):
    if isinstance(module, nn.AdaptiveAvgPool2d):
        size = module.output_size
        return size == 1 or tuple(size) == (1, 1)
    return module.__dict__.get("pool_type") == "avg"  # timm's SelectAdaptivePool2d (a plain attribute there)


def _last_gap_and_linear(modules):
    pool = linear = None
    for module in modules:
        if isinstance(module, nn.Linear):
            linear = module
        elif _is_global_average_pool(module):
            pool = module
    return pool, linear


def gap_and_linear(model):
    """The last global average pooling module and the last ``nn.Linear`` of ``model``.

    The model's direct children are searched first (where torchvision, timm and the
    course put their heads), then every module.

    Raises:
        ValueError: the model has no global average pooling or no linear layer.
    """
    pool, linear = _last_gap_and_linear(model.children())
    if pool is None or linear is None:
        pool, linear = _last_gap_and_linear(model.modules())
    if pool is None or linear is None:
        raise ValueError(f"CAM needs a network ending in global average pooling and one linear layer; "
                         f"{type(model).__name__} has {'a' if pool else 'no'} global average pooling and "
                         f"{'a' if linear else 'no'} linear layer")
    return pool, linear


def check_images(model, images):
    """Raise unless ``images`` is a float (B, C, H, W) tensor and ``model`` is in eval mode."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a floating-point tensor, got {images.dtype}")
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


@torch.no_grad()
def cam(model, images, classes=None, check=True):
    """Class activation maps of ``images`` (B, C, H, W) for all classes or the given ones, in one forward pass.

    Args:
        model: a network ending in global average pooling and one linear layer
            (e.g. :class:`helpers.models.GapNet`, the ImageNet model, a torchvision
            ResNet), in eval mode.
        images: (B, C, H, W) float tensor on the model's device.
        classes: ``None`` for every class, or class indices of shape (B,) or (B, K).
        check: verify that ``mean(M_c) + b_c`` reproduces the model's logits, i.e.
            that nothing but a linear layer follows the pooling.

    Returns:
        :class:`Cam` with ``maps`` (B, K, h, w) on the feature grid (see :func:`upsample`).

    Raises:
        ValueError: the model is in train mode, has no GAP + linear head, or the
            images or classes have the wrong shape or range.
        TypeError: images or classes have the wrong dtype.
    """
    check_images(model, images)
    pool, linear = gap_and_linear(model)
    index = check_classes(classes, images.shape[0], linear.out_features, images.device)
    captured = []
    handle = pool.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    try:
        logits = model(images)
    finally:
        handle.remove()
    features = captured[-1]
    if features.dim() != 4 or features.shape[1] != linear.in_features:
        raise ValueError(f"the pooled features have shape {tuple(features.shape)}; the linear layer expects "
                         f"{linear.in_features} channels: not a GAP + linear head")
    bias = linear.bias if linear.bias is not None else features.new_zeros(linear.out_features)
    if classes is None:  # every class: one product with the whole weight matrix
        maps = torch.einsum("bchw,kc->bkhw", features, linear.weight)
    else:
        maps = torch.einsum("bchw,bkc->bkhw", features, linear.weight[index])
    if check:  # one comparison, read back once, after the maps are queued (no stall between GPU kernels)
        pooled = F.linear(features.mean(dim=(2, 3)), linear.weight, bias)
        tolerance = 1e-4 * (pooled.abs() + logits.abs().amax()) + 1e-6
        if pooled.shape != logits.shape or bool(((pooled - logits).abs() > tolerance).any()):
            raise ValueError("the logits are not a linear function of the pooled features: something other than "
                             "one linear layer follows the global average pooling, so CAM does not apply")
    return Cam(maps, bias[index], logits, index)


def upsample(maps, size):
    """Maps (B, K, h, w) resized to ``size`` (an int or (H, W)) by bilinear interpolation, as in the paper."""
    if maps.dim() != 4:
        raise ValueError(f"maps must have shape (B, K, h, w), got {tuple(maps.shape)}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
