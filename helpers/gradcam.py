"""Grad-CAM (Selvaraju et al., ICCV 2017, "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization").

For the activations ``A^k`` (K maps of h x w = Z cells) of a chosen layer and the
logit ``y^c`` of class c (before the softmax), the weight of map k is its averaged
gradient and the map is the rectified weighted sum:

    alpha_k^c = (1/Z) sum_{i,j} d y^c / d A^k_{ij},      L^c = ReLU(sum_k alpha_k^c A^k).

The *counterfactual* map negates the gradients (``alpha -> -alpha``): the places
whose removal would raise the score. On a GAP + linear network, with A the pooled
features, ``alpha_k^c = w_k^c / Z`` and so ``L^c = ReLU(M_c) / Z`` exactly (the CAM
of :mod:`helpers.cam`).

The layer, by default, is the feature map the classifier head reads, at the
outermost module that makes it (:func:`helpers.layers.find_head`: VGG's ReLU after
the last convolution, ResNet's ``layer4``, DenseNet's ``features``), not the last
``nn.Conv2d``, which in most networks is one branch or one sub-layer of a block.

How it runs: one forward pass, without autograd up to the layer; there a forward
hook keeps a private copy ``A`` of the layer's output that requires grad, hands the
rest of the network a clone of it (so whatever the network does in place
afterwards, an in-place ReLU or a ``+=`` residual sum, changes neither ``A`` nor
the leaf that is differentiated) and turns autograd on for the rest of the network;
the class scores are differentiated with ``torch.autograd.grad`` with respect to
``A`` only, so the backward pass stops at the layer and never reaches the
parameters (their ``.grad`` stay untouched). Several classes per image are differentiated in one
batched backward pass (``is_grads_batched``). The hook is removed in a ``finally``
block. Explained in 04_gradcam.
"""

from typing import NamedTuple

import torch
from torch import nn

from .cam import check_classes, check_images
from .data import check_int
from .layers import default_layer


class GradCam(NamedTuple):
    """Grad-CAM maps with what they were made of."""

    maps: torch.Tensor  #: (B, K, h, w): ReLU(sum_k alpha_k^c A^k), one per requested class
    raw: torch.Tensor  #: (B, K, h, w): the same before the ReLU
    weights: torch.Tensor  #: (B, K, channels): alpha_k^c (negated for the counterfactual map)
    logits: torch.Tensor  #: (B, classes): the model's output, detached
    classes: torch.Tensor  #: (B, K): the class index of each map


def resolve_layer(model, layer=None, images=None):
    """The module of ``model`` whose output Grad-CAM explains: a module, a dotted name, or ``None``.

    ``None`` picks the feature map the classifier head reads for images shaped like
    ``images`` (:func:`helpers.layers.default_layer`).

    Raises:
        ValueError: the name or the module is not part of ``model``; ``None`` without
            images; a model without convolutional feature maps.
        TypeError: ``layer`` is neither a module, a string nor ``None``.
    """
    if layer is None:
        if images is None:
            raise ValueError("the default layer depends on the input: pass images (or a layer)")
        layer = default_layer(model, images)
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"{type(model).__name__} has no layer named {layer!r}") from None
    if isinstance(layer, nn.Module):
        if not any(module is layer for module in model.modules()):
            raise ValueError(f"the given {type(layer).__name__} layer is not part of {type(model).__name__}")
        return layer
    raise TypeError(f"layer must be an nn.Module, a dotted name or None, got {type(layer).__name__}")


def _forward_to(model, images, layer):
    """Run the model with the layer's output swapped for a leaf that requires grad; return (activations, logits)."""
    captured = []

    def swap(module, inputs, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            raise ValueError(f"the target layer must output (B, K, h, w) feature maps (Grad-CAM here explains "
                             f"convolutional feature maps), got {getattr(output, 'shape', type(output))}")
        leaf = output.detach().clone().requires_grad_(True)  # A, as the layer made it: nothing else holds it
        captured.append(leaf)
        torch.set_grad_enabled(True)  # record the graph from the layer on
        return leaf.clone()  # what the network goes on with, free to change in place

    handle = layer.register_forward_hook(swap)
    try:
        with torch.no_grad():  # nothing before the layer is differentiated: record no graph there
            logits = model(images)
    finally:  # leaving ``no_grad`` restores the caller's grad mode
        handle.remove()
    if not captured:
        raise ValueError("the target layer was not used in the forward pass")
    if len(captured) > 1:
        raise ValueError("the target layer ran more than once in one forward pass; pick a layer that runs once")
    return captured[0], logits


class Gradients(NamedTuple):
    """The target layer's activations and the gradients of the requested logits with respect to them."""

    activations: torch.Tensor  #: (B, channels, h, w): A, as the layer made it, detached
    grads: torch.Tensor  #: (B, K, channels, h, w): d y^c / d A for each requested class
    logits: torch.Tensor  #: (B, classes): the model's output, detached
    classes: torch.Tensor  #: (B, K): the class index of each gradient


def class_gradients(model, images, classes=None, layer=None, top=None):
    """``d y^c / d A`` at the layer for each requested class: one forward pass, one (batched) backward pass.

    Arguments as :func:`grad_cam`; the backward pass stops at the layer and leaves
    the parameters' ``.grad`` untouched.
    """
    check_images(model, images)
    if top is not None:
        check_int("top", top, 1)
        if classes is not None:
            raise ValueError("give classes or top, not both")
    target = resolve_layer(model, layer, images)
    activations, logits = _forward_to(model, images, target)
    if top is not None:  # each image's best classes, found in this forward pass
        if top > logits.shape[1]:
            raise ValueError(f"top must be at most the number of classes, {logits.shape[1]}, got {top}")
        index = logits.detach().topk(top, dim=1).indices
    elif classes is None:  # each image's predicted class
        index = logits.detach().argmax(dim=1, keepdim=True)
    else:
        index = check_classes(classes, *logits.shape, logits.device)
    with torch.enable_grad():  # also when the caller runs under ``torch.no_grad()``
        scores = logits.gather(1, index)  # (B, K): y^c of each requested class
    count = index.shape[1]
    if not scores.requires_grad:
        raise ValueError("the logits do not depend on the target layer's output")
    if count == 1:
        (grads,) = torch.autograd.grad(scores, activations, grad_outputs=torch.ones_like(scores))
        grads = grads.unsqueeze(1)  # (B, 1, channels, h, w)
    else:  # one batched backward pass: the k-th pass differentiates the k-th score of every image
        selector = torch.eye(count, device=scores.device, dtype=scores.dtype).unsqueeze(1).expand(count, *scores.shape)
        (grads,) = torch.autograd.grad(scores, activations, grad_outputs=selector, is_grads_batched=True)
        grads = grads.transpose(0, 1)  # (B, K, channels, h, w)
    return Gradients(activations.detach(), grads, logits.detach(), index)


def grad_cam(model, images, classes=None, layer=None, counterfactual=False, top=None):
    """Grad-CAM maps of ``images`` (B, C, H, W) for one or several classes per image, in one forward pass.

    Args:
        model: a classifier returning logits (B, classes), in eval mode.
        images: (B, C, H, W) float tensor on the model's device.
        classes: ``None`` (each image's predicted class), or class indices (B,) or (B, K).
        layer: the layer to explain: a module of ``model``, its dotted name, or
            ``None`` for the map the classifier head reads
            (:func:`helpers.layers.default_layer`). It must run once per forward
            pass and output (B, K, h, w) maps.
        counterfactual: negate the gradients (the map of evidence *against* the class).
        top: instead of ``classes``, each image's ``top`` best-scoring classes, best
            first, found in the same forward pass (``top=1`` is ``classes=None``).

    Returns:
        :class:`GradCam`; ``maps`` are (B, K, h, w) on the layer's grid (see
        :func:`helpers.cam.upsample`), on the images' device, detached.

    Raises:
        ValueError: wrong shapes, class indices out of range, a layer not in the
            model or not producing feature maps, a model in train mode, or images
            holding NaN or infinity.
        TypeError: non-float images or non-integer classes.
    """
    result = class_gradients(model, images, classes, layer, top)
    weights = result.grads.mean(dim=(3, 4))
    if counterfactual:
        weights = -weights
    raw = torch.einsum("bkc,bchw->bkhw", weights, result.activations)
    return GradCam(raw.clamp(min=0), raw, weights, result.logits, result.classes)


def contributions(model, images, classes=None, layer=None):
    """Each cell's first-order share of the logit, without Grad-CAM's averaging over cells, (B, K, h, w), signed:

        C^c_ij = sum_k (d y^c / d A^k_ij) A^k_ij.

    Grad-CAM replaces the gradient at each cell by its mean over the Z cells, which
    throws away where the head reads its evidence: for a head that weighs each
    position on its own (a flattened, fully connected head), Grad-CAM's map follows
    wherever the channels fire, but ``C`` shows which cells actually move the
    score. Where the logit is a linear function of A without bias,
    ``sum_ij C^c_ij = y^c``; on a GAP + linear network ``C = M_c / Z`` (CAM) and
    Grad-CAM's raw map equals it. (Draelos & Carin, 2020, call the rectified
    version HiResCAM.) Arguments as :func:`grad_cam`. Explained in 04_gradcam.
    """
    result = class_gradients(model, images, classes, layer)
    return torch.einsum("bkchw,bchw->bkhw", result.grads, result.activations)
