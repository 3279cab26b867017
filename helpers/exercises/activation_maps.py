"""Lesson 03's exercises: CAM from the features and the linear weights, and a box from a thresholded map."""

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..boxes import box_from_heatmap
from .checking import Exercise, Mistake


def _cam_cases(generator, device):
    """Features (B, K, h, w), the classifier's weights (C, K) and one class per image (not all the same)."""
    cases = []
    for batch, channels, height, width, classes in ((5, 8, 6, 4, 6), (1, 4, 3, 3, 3)):
        features = torch.randn(batch, channels, height, width, generator=generator).relu()
        weight = torch.randn(classes, channels, generator=generator)
        chosen = torch.randperm(classes, generator=generator)[torch.arange(batch) % classes]
        cases.append((features.to(device), weight.to(device), chosen.to(device)))
    return cases


def _cam(features, weight, classes):
    return torch.einsum("bkhw,bk->bhw", features, weight[classes])


def _box_cases(generator, device):
    """Maps (H, W) with a maximum other than 1: a big, a small and a large faint region; a region joined only at
    a corner; a random smooth map at two thresholds."""
    two = torch.zeros(32, 40)
    two[4:20, 3:15] = 2.0  # the big region: 16 rows x 12 columns
    two[24:28, 30:37] = 3.0  # a small region with the highest value
    two[1:31, 20:27] = 1.0  # a large faint region: above tau, below tau times the maximum
    corner = torch.zeros(24, 24)
    corner[2:8, 2:8] = 1.5
    corner[8:14, 8:14] = 1.0  # touches the first square at one corner only
    corner[18:22, 1:5] = 0.9
    smooth = F.interpolate(torch.rand(1, 1, 6, 5, generator=generator), size=(30, 25), mode="bilinear",
                           align_corners=False)[0, 0]
    return [(two.to(device), 0.5), (corner.to(device), 0.5), (smooth.to(device), 0.6), (smooth.to(device), 0.3)]


def _kept(heatmap, tau):
    return heatmap >= tau * heatmap.max()


def _four_connected_box(heatmap, tau):
    """The box of the largest 4-connected kept region (scipy's default structure; ties: the first)."""
    labels, _ = ndimage.label(_kept(heatmap, tau).cpu().numpy())
    rows, cols = np.nonzero(labels == 1 + np.bincount(labels.ravel())[1:].argmax())
    return torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=torch.float32,
                        device=heatmap.device)


def _all_kept(heatmap, tau):
    rows, cols = torch.nonzero(_kept(heatmap, tau), as_tuple=True)
    return torch.stack([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]).float()


EXERCISES = {
    "cam": Exercise(
        "my_cam(features, weight, classes)", _cam_cases, _cam,
        (Mistake(lambda f, w, c: _cam(f, w, c).relu(),
                 "CAM keeps the negative evidence: no ReLU (Grad-CAM adds one, in lesson 04)."),
         Mistake(lambda f, w, c: _cam(f, w, c) / f.shape[1],
                 "Sum over the channels k, each weighted by w_k^c; do not average them."),
         Mistake(lambda f, w, c: torch.einsum("bkhw,k->bhw", f, w[c[0]]),
                 "Each image has its own class: image b uses the row weight[classes[b]]."),
         Mistake(lambda f, w, c: torch.einsum("bkhw,k->bhw", f, w.sum(dim=0)),
                 "Use only the requested class's weights, not all classes' weights added up."),
         Mistake(lambda f, w, c: _cam(f, w, c) / _cam(f, w, c).flatten(1).amax(dim=1).view(-1, 1, 1),
                 "Return the raw map M_c; dividing by its maximum is for drawing, later.")),
        "batches of 5 and 1 with different classes, non-square grids"),
    "box": Exercise(
        "my_box(heatmap, tau)", _box_cases, box_from_heatmap,
        (Mistake(_all_kept,
                 "Keep only the largest connected region: the box around every kept pixel also takes in small "
                 "far-away spots."),
         Mistake(lambda m, t: box_from_heatmap((m >= t).float(), 1.0),  # a binary map: keeps exactly m >= t
                 "tau is a fraction of the map's maximum: keep the pixels with heatmap >= tau * heatmap.max()."),
         Mistake(lambda m, t: box_from_heatmap(m, t) - torch.tensor([0.0, 0, 1, 1], device=m.device),
                 "Boxes lie on pixel edges: a region whose last column is 14 ends at x1 = 15 (add 1 to the last "
                 "row and column)."),
         Mistake(lambda m, t: box_from_heatmap(m, t)[[1, 0, 3, 2]],
                 "x is the column (the last axis) and y the row: return (x0, y0, x1, y1)."),
         Mistake(_four_connected_box,
                 "Pixels that touch only at a corner belong to one region: label with 8-connectivity "
                 "(scipy.ndimage.label(kept, structure=np.ones((3, 3))))")),
        "big, small and faint regions, a corner-joined region, maxima other than 1, a smooth map at two thresholds"),
}
