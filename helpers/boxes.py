"""Boxes: formats, conversions, checks, IoU and GIoU for batches.

Formats (the last dimension holds four numbers):

- ``xyxy``: corners ``(x1, y1, x2, y2)``, the course's default;
- ``xywh``: top-left corner, width and height ``(x1, y1, w, h)``;
- ``cxcywh``: centre, width and height ``(cx, cy, w, h)``.

Coordinates are in pixels, measured on pixel edges (see :mod:`helpers.data`), or
normalised to [0, 1] by the image's width and height. Conversions are
``torchvision.ops.box_convert``; IoU and GIoU follow torchvision's definitions.

Boxes from heat-maps (threshold, connected components) are explained in 03_cam;
the rest in 01_localization_regression.
"""

from typing import NamedTuple

import cv2
import numpy as np
import torch
from torchvision import ops

FORMATS = ("xyxy", "xywh", "cxcywh")


def check_boxes(boxes, fmt="xyxy"):
    """Raise a ``ValueError`` naming the problem unless ``boxes`` is a valid (..., 4) float tensor.

    Checked: a tensor, a floating dtype, last dimension 4, no NaN or infinity, and
    no negative extent (``x2 < x1`` or ``y2 < y1`` in ``xyxy``; ``w < 0`` or
    ``h < 0`` in the other formats). Returns ``boxes`` unchanged.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {FORMATS}")
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"boxes must be a torch.Tensor, got {type(boxes).__name__}")
    if not boxes.is_floating_point():
        raise TypeError(f"boxes must be a floating-point tensor, got {boxes.dtype}")
    if boxes.dim() == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4), got {tuple(boxes.shape)}")
    if not torch.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or infinite values")
    if fmt == "xyxy":
        widths, heights = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
        if (widths < 0).any():
            raise ValueError("boxes have x2 < x1 (xyxy boxes need x1 <= x2)")
        if (heights < 0).any():
            raise ValueError("boxes have y2 < y1 (xyxy boxes need y1 <= y2)")
    elif (boxes[..., 2:] < 0).any():
        raise ValueError(f"boxes have a negative width or height ({fmt})")
    return boxes


def convert(boxes, source, target):
    """Convert boxes between ``xyxy``, ``xywh`` and ``cxcywh`` (any leading shape)."""
    check_boxes(boxes, source)
    if target not in FORMATS:
        raise ValueError(f"unknown box format {target!r}; expected one of {FORMATS}")
    shape = boxes.shape
    return ops.box_convert(boxes.reshape(-1, 4), source, target).reshape(shape)


def _scale(size, like):
    height, width = (size, size) if isinstance(size, int) else size
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    return torch.tensor([width, height, width, height], dtype=like.dtype, device=like.device)


def normalize(boxes, size):
    """Pixel boxes (any format) to [0, 1] coordinates; ``size`` is ``(height, width)`` or one int."""
    return boxes / _scale(size, boxes)


def denormalize(boxes, size):
    """[0, 1] boxes (any format) to pixels; ``size`` is ``(height, width)`` or one int."""
    return boxes * _scale(size, boxes)


def _pair(boxes_a, boxes_b):
    check_boxes(boxes_a)
    check_boxes(boxes_b)
    if boxes_a.shape != boxes_b.shape:
        raise ValueError(f"paired boxes need equal shapes, got {tuple(boxes_a.shape)} and {tuple(boxes_b.shape)}")
    area_a = (boxes_a[..., 2] - boxes_a[..., 0]) * (boxes_a[..., 3] - boxes_a[..., 1])
    area_b = (boxes_b[..., 2] - boxes_b[..., 0]) * (boxes_b[..., 3] - boxes_b[..., 1])
    top_left = torch.maximum(boxes_a[..., :2], boxes_b[..., :2])
    bottom_right = torch.minimum(boxes_a[..., 2:], boxes_b[..., 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    union = area_a + area_b - inter
    return inter, union


def iou(boxes_a, boxes_b, eps=1e-9):
    """IoU of each box in ``boxes_a`` with the box at the same place in ``boxes_b`` (``xyxy``).

    ``IoU = |A ∩ B| / |A ∪ B|``, in [0, 1]; shapes ``(..., 4)`` give ``(...)``.
    Two empty boxes have IoU 0. For all pairs use ``torchvision.ops.box_iou``.
    """
    inter, union = _pair(boxes_a, boxes_b)
    return inter / union.clamp(min=eps)


def giou(boxes_a, boxes_b, eps=1e-9):
    """Generalised IoU of paired ``xyxy`` boxes (Rezatofighi et al., CVPR 2019).

    ``GIoU = IoU - |C \\ (A ∪ B)| / |C|`` with ``C`` the smallest box enclosing
    both; in [-1, 1], and still informative when the boxes do not overlap.
    """
    inter, union = _pair(boxes_a, boxes_b)
    enclosing = (torch.maximum(boxes_a[..., 2:], boxes_b[..., 2:])
                 - torch.minimum(boxes_a[..., :2], boxes_b[..., :2])).prod(dim=-1)
    return inter / union.clamp(min=eps) - (enclosing - union) / enclosing.clamp(min=eps)


BOX_LOSSES = ("l2", "smooth_l1", "giou")


def box_loss(predicted, target, kind="l2", beta=0.05):
    """Box regression loss between normalised ``cxcywh`` boxes, averaged over the batch.

    With ``d = predicted - target`` (four numbers per image):

    - ``l2``: ``sum_i d_i^2`` (the square of the lecture notes' L2 distance);
    - ``smooth_l1``: ``sum_i s(d_i)`` with ``s(x) = 0.5 x^2 / beta`` for ``|x| < beta``
      and ``|x| - beta / 2`` beyond (Fast R-CNN): quadratic near the target, linear
      far from it, so big errors pull less hard;
    - ``giou``: ``1 - GIoU`` of the ``xyxy`` forms (Rezatofighi et al., 2019), in [0, 2],
      which scores the overlap itself rather than four separate numbers.
    """
    if kind not in BOX_LOSSES:
        raise ValueError(f"unknown box loss {kind!r}; expected one of {BOX_LOSSES}")
    if predicted.shape != target.shape or predicted.shape[-1] != 4:
        raise ValueError(f"predicted and target need one shape (..., 4), got {tuple(predicted.shape)} "
                         f"and {tuple(target.shape)}")
    if kind == "l2":
        return (predicted - target).pow(2).sum(dim=-1).mean()
    if kind == "smooth_l1":
        return torch.nn.functional.smooth_l1_loss(predicted, target, beta=beta, reduction="none").sum(dim=-1).mean()
    return (1 - giou(convert(predicted, "cxcywh", "xyxy"), convert(target, "cxcywh", "xyxy"))).mean()



class Components(NamedTuple):
    """Connected components of a batch of masks, one row per component."""

    image: torch.Tensor  #: (M,) long: the index of the mask each component belongs to
    boxes: torch.Tensor  #: (M, 4) ``xyxy`` pixel boxes around the components, on pixel edges
    sizes: torch.Tensor  #: (M,) number of pixels in each component


def connected_components(kept):
    """The 8-connected components of boolean masks ``kept`` (N, H, W), with their boxes and pixel counts.

    The labelling runs on the CPU, in one call for the whole batch: the N masks
    are stacked into one (N (H + 1), W) image with an empty row below each, so no
    component crosses from one mask into the next, and OpenCV's
    ``connectedComponentsWithStats`` (Wu's scan-array union-find, which numbers
    components in raster order) returns every component's box and pixel count.
    The results come back on ``kept``'s device. Components are listed image by
    image, each image's in row-major order of their first pixel (the order of
    ``scipy.ndimage.label``, which the tests compare against).
    """
    if not isinstance(kept, torch.Tensor) or kept.dtype != torch.bool or kept.dim() != 3:
        raise ValueError(f"kept must be a boolean (N, H, W) tensor, got {getattr(kept, 'dtype', type(kept))} "
                         f"{tuple(getattr(kept, 'shape', ()))}")
    count, h, w = kept.shape
    stacked = np.zeros((count, h + 1, w), dtype=np.uint8)
    stacked[:, :h] = kept.detach().cpu().numpy()
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        stacked.reshape(count * (h + 1), w), 8, cv2.CV_32S, cv2.CCL_SAUF)
    left, top, width, height, sizes = torch.from_numpy(stats[1:].astype(np.int64)).T  # row 0: the background
    image = top // (h + 1)
    top = top - image * (h + 1)
    boxes = torch.stack([left, top, left + width, top + height], dim=1).float()
    return Components(image.to(kept.device), boxes.to(kept.device), sizes.to(kept.device))


def largest_components(parts, count):
    """For each of ``count`` images, the row of :class:`Components` ``parts`` with the most pixels (ties: the first).

    Returns (count,) long indices into ``parts``, -1 for an image without any component.
    """
    rows = torch.arange(len(parts.sizes), device=parts.sizes.device)
    biggest = torch.zeros(count, dtype=parts.sizes.dtype, device=rows.device).scatter_reduce(
        0, parts.image, parts.sizes, "amax")
    is_biggest = parts.sizes == biggest[parts.image]
    first = torch.full((count,), len(rows), device=rows.device).scatter_reduce(
        0, parts.image[is_biggest], rows[is_biggest], "amin")
    return torch.where(first < len(rows), first, -1)


def threshold_heatmaps(maps, tau):
    """Pixels where each map is at least ``tau`` times its maximum; nothing where the maximum is not positive."""
    if not isinstance(maps, torch.Tensor) or maps.dim() < 2 or not maps.is_floating_point():
        raise ValueError(f"maps must be a floating-point tensor of shape (..., H, W), "
                         f"got {getattr(maps, 'dtype', type(maps))} {tuple(getattr(maps, 'shape', ()))}")
    if not 0 <= tau <= 1:
        raise ValueError(f"tau must be in [0, 1], got {tau}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or infinite values")
    peak = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps >= tau * peak) & (peak > 0)


def box_from_heatmap(maps, tau=0.2):
    """The box around the largest connected region of each map where the map is at least ``tau`` times its maximum.

    The CAM paper's protocol (Zhou et al., 2016: tau = 0.2; Grad-CAM uses 0.15):
    keep pixels with ``M(x, y) >= tau * max M``, find the kept pixels'
    8-connected components and return the box of the one with the most pixels
    (ties: the first in row-major order).

    Args:
        maps: (..., H, W) heat-maps at the image's resolution (upsample first).
        tau: threshold as a fraction of each map's maximum, in [0, 1].

    Returns:
        (..., 4) ``xyxy`` boxes in pixels, on pixel edges, on the maps' device.
        A map whose maximum is not positive (no evidence anywhere) gives the empty
        box ``(0, 0, 0, 0)``, whose IoU with any box is 0; a constant positive map
        keeps every pixel and gives the whole image.
    """
    kept = threshold_heatmaps(maps, tau)
    *lead, h, w = kept.shape
    parts = connected_components(kept.reshape(-1, h, w))
    count = kept.numel() // (h * w)
    chosen = largest_components(parts, count)
    found = chosen >= 0
    boxes = torch.zeros(count, 4, device=maps.device)
    boxes[found] = parts.boxes[chosen[found]]
    return boxes.view(*lead, 4)


def nearer_the_midpoint(predicted, pairs):
    """Share of predicted boxes (N, 4) whose centre is nearer the midpoint of two objects' centres than either centre.

    ``pairs`` (N, 2, 4) holds the two true boxes of each image; all boxes ``xyxy``. A
    box that hedges between two objects has its centre near their midpoint; a box on
    one of them, near that object's centre. Used in 01_localization_regression.
    """
    predicted, pairs = check_boxes(predicted), torch.as_tensor(pairs)
    if pairs.dim() != 3 or pairs.shape[1:] != (2, 4) or pairs.shape[0] != predicted.shape[0]:
        raise ValueError(f"pairs must have shape (N, 2, 4) with N = {predicted.shape[0]}, got {tuple(pairs.shape)}")
    centres = (pairs[..., :2] + pairs[..., 2:]) / 2  # (N, 2, 2)
    centre = (predicted[:, :2] + predicted[:, 2:]) / 2
    to_midpoint = (centre - centres.mean(dim=1)).norm(dim=1)
    to_nearest = (centre.unsqueeze(1) - centres).norm(dim=2).min(dim=1).values
    return (to_midpoint < to_nearest).float().mean().item()
