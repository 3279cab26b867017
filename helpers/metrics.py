"""Scores for predictions against ground truth.

Explained in 01_localization_regression (accuracy, IoU, localization accuracy)
and 03_cam (heat-maps against boxes and masks: MaxBoxAcc, MaxBoxAccV2, PxAP, pointing game),
06_rise (deletion and insertion: does the model's score follow the map's ranking of the pixels?).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from tqdm.auto import tqdm

from .boxes import check_boxes, connected_components, iou, largest_components, nearer_the_midpoint
from .data import check_int


def accuracy(predicted, labels):
    """Share of ``predicted`` class indices equal to ``labels`` (same shape), as a float in [0, 1]."""
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted and labels need the same shape, got {tuple(predicted.shape)} "
                         f"and {tuple(labels.shape)}")
    return (predicted == labels).float().mean().item()


def localization_accuracy(predicted, labels, ious, threshold=0.5):
    """Share of images whose class is right *and* whose box has IoU >= ``threshold`` with the truth.

    The ILSVRC localization criterion (top-1) used by OverFeat, CAM and Grad-CAM.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if not predicted.shape == labels.shape == ious.shape:
        raise ValueError(f"predicted, labels and ious need one shape, got {tuple(predicted.shape)}, "
                         f"{tuple(labels.shape)} and {tuple(ious.shape)}")
    return ((predicted == labels) & (ious >= threshold)).float().mean().item()


# ---------------------------------------------------------------- heat-maps against ground truth
# Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR 2020.

#: The thresholds Choe et al. sweep: 0, 0.01, ..., 0.99 on maps normalised to [0, 1].
TAUS = tuple(round(0.01 * i, 2) for i in range(100))


def normalize_maps(maps):
    """Each (H, W) map of ``maps`` (..., H, W) rescaled to [0, 1] by its own minimum and maximum.

    A constant map becomes all zeros (no evidence anywhere), as in Choe et al.'s code.
    """
    low = maps.amin(dim=(-2, -1), keepdim=True)
    span = maps.amax(dim=(-2, -1), keepdim=True) - low
    return torch.where(span > 0, (maps - low) / span.clamp(min=torch.finfo(maps.dtype).tiny), 0.0)


def map_correlation(maps, references):
    """Pearson correlation of each map with its reference, (B,): for maps (B, ...) and references of that shape,

        r = sum (a - mean a)(b - mean b) / (||a - mean a|| ||b - mean b||),

    how alike two estimates of the same map are (lesson 06; bench/rise_convergence.py, rise_variance.py).
    """
    if maps.shape != references.shape or maps.dim() < 2:
        raise ValueError(f"maps and references must be batches (B, ...) of one shape, got {tuple(maps.shape)} and "
                         f"{tuple(references.shape)}")
    a, b = maps.flatten(1), references.flatten(1)
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp(min=1e-12)


def _as_box_sets(boxes, count):
    """Ground-truth boxes as (N, G, 4): one box per image (N, 4) or G boxes per image (N, G, 4)."""
    check_boxes(boxes)
    if boxes.dim() == 2:
        boxes = boxes.unsqueeze(1)
    if boxes.dim() != 3 or boxes.shape[0] != count:
        raise ValueError(f"boxes must have shape (N, 4) or (N, G, 4) with N = {count}, got {tuple(boxes.shape)}")
    return boxes


def _check_maps(maps, name="maps"):
    if not isinstance(maps, torch.Tensor) or maps.dim() != 3 or not maps.is_floating_point():
        raise ValueError(f"{name} must be a floating-point (N, H, W) tensor, got "
                         f"{getattr(maps, 'dtype', type(maps))} {tuple(getattr(maps, 'shape', ()))}")
    if not torch.isfinite(maps).all():
        raise ValueError(f"{name} contain NaN or infinite values")


class BoxScores(NamedTuple):
    """IoUs of the boxes drawn from heat-maps at every threshold tau."""

    taus: torch.Tensor  #: (T,) thresholds on the normalised maps
    largest: torch.Tensor  #: (T, N) IoU of the largest component's box with the nearest ground-truth box
    best: torch.Tensor  #: (T, N) best IoU over the boxes of *all* components and all ground-truth boxes

    def box_accuracy(self, delta=0.5, all_components=False):
        """``BoxAcc(tau, delta)`` for every tau: the share of images with IoU >= delta, (T,)."""
        ious = self.best if all_components else self.largest
        return (ious >= delta).float().mean(dim=1)

    def max_box_acc(self, delta=0.5):
        """``MaxBoxAcc = max_tau BoxAcc(tau, delta)`` with the largest component's box (CAM's protocol)."""
        return self.box_accuracy(delta).max().item()

    def held_out(self, choose, delta=0.5):
        """The honest version of MaxBoxAcc: tau chosen on the images ``choose`` (a boolean mask (N,)), scored on the rest.

        MaxBoxAcc picks the best tau on the very images it scores, an oracle; Choe
        et al. (2020) choose it on held-out images with boxes. Returns ``(tau, BoxAcc
        at that tau on the other images)``.
        """
        choose = torch.as_tensor(choose, dtype=torch.bool, device=self.largest.device)
        if choose.shape != self.largest.shape[1:] or bool(choose.all()) or not bool(choose.any()):
            raise ValueError(f"choose must be a boolean mask of the {self.largest.shape[1]} images with both parts "
                             f"non-empty")
        hits = (self.largest >= delta).float()
        best = hits[:, choose].mean(dim=1).argmax()
        return self.taus[best].item(), hits[best, ~choose].mean().item()

    def max_box_acc_v2(self, deltas=(0.3, 0.5, 0.7)):
        """``MaxBoxAccV2``: the mean over ``deltas`` of ``max_tau BoxAcc``, every component's box a candidate."""
        return sum(self.box_accuracy(d, all_components=True).max().item() for d in deltas) / len(deltas)


def box_scores(maps, boxes, taus=TAUS, progress=True):
    """Boxes from heat-maps at every threshold, scored against ground truth (Choe et al., 2020).

    Each map (N, H, W) (at the image's resolution) is normalised to [0, 1] by
    :func:`normalize_maps`; at each ``tau`` the pixels ``>= tau`` are kept and the
    boxes of their 8-connected components are compared with the ground-truth
    ``boxes`` ((N, 4), or (N, G, 4) for G objects per image: the best match counts).

    Returns:
        :class:`BoxScores`, from which ``MaxBoxAcc`` and ``MaxBoxAccV2`` follow.
    """
    _check_maps(maps)
    truth = _as_box_sets(boxes, maps.shape[0]).to(maps.device)
    if not all(0 <= tau <= 1 for tau in taus):
        raise ValueError(f"every tau must be in [0, 1], got {taus}")
    normalized = normalize_maps(maps)
    peak = normalized.amax(dim=(-2, -1), keepdim=True)  # 1, or 0 for a constant map (nothing kept)
    levels = torch.where(peak > 0, normalized, -1.0)  # a constant map keeps nothing, even at tau = 0
    n = maps.shape[0]
    largest, best = [], []
    for tau in tqdm(taus, desc="thresholds", disable=not progress):
        parts = connected_components(levels >= float(tau))
        # IoU of every component's box with every ground-truth box of its image; keep the best ground truth
        ious = torch.stack([iou(parts.boxes, truth[parts.image, g]) for g in range(truth.shape[1])]).amax(dim=0)
        best.append(torch.zeros(n, device=maps.device).scatter_reduce(0, parts.image, ious, "amax"))
        chosen = largest_components(parts, n)  # CAM's protocol: the largest region's box
        found = chosen >= 0
        scored = torch.zeros(n, device=maps.device)
        scored[found] = ious[chosen[found]]
        largest.append(scored)
    return BoxScores(torch.tensor(taus, dtype=torch.float32), torch.stack(largest), torch.stack(best))


def pxap(maps, masks, taus=TAUS):
    """Pixel average precision of heat-maps against ground-truth masks (Choe et al., 2020).

    Over all pixels of all images, with maps normalised to [0, 1] and thresholds
    ``taus``: precision ``P(tau)`` and recall ``R(tau)`` of the pixels ``>= tau``
    against the masks; ``PxAP = sum_tau P(tau) (R(tau) - R(tau'))`` over the
    thresholds from the highest down, ``tau'`` the next higher one (R = 0 above
    the highest). Masks (N, H, W), or (N, G, H, W) for several objects (their union).
    """
    _check_maps(maps)
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be boolean, got {masks.dtype}")
    if masks.dim() == 4:
        masks = masks.any(dim=1)
    if masks.shape != maps.shape:
        raise ValueError(f"masks must have the maps' shape {tuple(maps.shape)}, got {tuple(masks.shape)}")
    if not masks.any():
        raise ValueError("masks hold no object pixel: precision and recall are undefined")
    edges = torch.tensor(taus, dtype=maps.dtype, device=maps.device)
    if (edges.diff() <= 0).any():
        raise ValueError("taus must increase")
    scores = normalize_maps(maps)
    bins = torch.bucketize(scores, edges, right=True) - 1  # index of the highest tau <= score; -1 below all
    counts = torch.zeros(2, len(taus) + 1, device=maps.device)
    counts.index_put_((masks.long().flatten(), (bins + 1).flatten()), torch.ones(1, device=maps.device),
                      accumulate=True)
    above = counts[:, 1:].flip(1).cumsum(dim=1)  # pixels >= each tau, from the highest tau down
    negatives, positives = above[0], above[1]
    precision = positives / (positives + negatives).clamp(min=1)
    recall = positives / masks.sum()
    gains = torch.diff(recall, prepend=recall.new_zeros(1))
    return (precision * gains).sum().item()


def pointing_game(maps, boxes, tolerance=0.0):
    """Share of maps whose maximum falls in a ground-truth box (Zhang et al., 2016; used by RISE).

    The maximum's pixel centre ``(x + 0.5, y + 0.5)`` must lie inside one of the
    boxes ((N, 4) or (N, G, 4), ``xyxy`` on pixel edges), or within ``tolerance``
    pixels of it. Ties: the first maximum in row-major order.
    """
    return pointing_hits(maps, boxes, tolerance).float().mean().item()


def pointing_hits(maps, boxes, tolerance=0.0):
    """:func:`pointing_game` image by image: (N,) bool, True where the map's maximum hits a box."""
    _check_maps(maps)
    truth = _as_box_sets(boxes, maps.shape[0]).to(maps.device)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    width = maps.shape[-1]
    peak = maps.flatten(1).argmax(dim=1)
    point = torch.stack([peak % width, peak // width], dim=1).to(maps.dtype) + 0.5  # (N, 2)
    outside = (truth[..., :2] - point.unsqueeze(1)).clamp(min=0) + (point.unsqueeze(1) - truth[..., 2:]).clamp(min=0)
    return (outside.norm(dim=-1) <= tolerance).any(dim=1)


def paired_bootstrap(values, baseline=None, resamples=2000, level=0.95, seed=0):
    """The mean of per-image ``values`` (N,) minus that of ``baseline`` (N,) on the same images, with a
    percentile bootstrap interval: ``(difference, low, high)``.

    Each of ``resamples`` draws N images with replacement and takes the difference of the two means on the
    same draw (paired: what the images share cancels); ``low`` and ``high`` are the draws' ``(1 - level) / 2``
    and ``(1 + level) / 2`` quantiles. Without a baseline, the interval of the mean of ``values``.
    """
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    baseline = torch.zeros_like(values) if baseline is None else torch.as_tensor(baseline, dtype=torch.float64)
    if baseline.shape != values.shape or values.numel() == 0:
        raise ValueError(f"values and baseline must be the same non-empty (N,), got {tuple(values.shape)} and "
                         f"{tuple(baseline.shape)}")
    check_int("resamples", resamples, 1)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    difference = values - baseline
    draws = torch.randint(len(difference), (resamples, len(difference)), generator=torch.Generator().manual_seed(seed))
    means = difference[draws].mean(dim=1)
    low, high = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return difference.mean().item(), low.item(), high.item()


def share_in_boxes(maps, boxes):
    """Each map's share of its positive mass that lies in its ground-truth box(es), (N,).

    ``share_n = sum_{p in boxes} max(m_n(p), 0) / sum_p max(m_n(p), 0)`` for maps
    (N, H, W) that may be signed; a pixel is in a box when its centre is (as in
    :func:`pointing_game`); a map with no positive value scores 0. Boxes (N, 4) or
    (N, G, 4), ``xyxy`` on pixel edges. Used in 04_gradcam.
    """
    _check_maps(maps)
    truth = _as_box_sets(boxes, maps.shape[0]).to(maps.device, maps.dtype)  # (N, G, 4)
    ys = torch.arange(maps.shape[-2], device=maps.device, dtype=maps.dtype) + 0.5
    xs = torch.arange(maps.shape[-1], device=maps.device, dtype=maps.dtype) + 0.5
    rows = (truth[..., 1, None] <= ys) & (ys <= truth[..., 3, None])  # (N, G, H)
    cols = (truth[..., 0, None] <= xs) & (xs <= truth[..., 2, None])  # (N, G, W)
    inside = (rows[..., :, None] & cols[..., None, :]).any(dim=1)  # (N, H, W)
    positive = maps.clamp(min=0)
    total = positive.flatten(1).sum(dim=1)
    return torch.where(total > 0, (positive * inside).flatten(1).sum(dim=1) / total.clamp(min=1e-30), 0.0)


def two_object_row(predicted, pairs):
    """How one box per image fares on images with two objects: a row of lesson 01's table.

    ``IoU >= 0.5 with either`` and ``mean best IoU`` (the better of the two objects),
    and ``centre nearer the midpoint`` (:func:`helpers.boxes.nearer_the_midpoint`);
    predicted (N, 4) and pairs (N, 2, 4), ``xyxy``.
    """
    best = torch.stack([iou(predicted, pairs[:, j]) for j in range(2)], dim=1).max(dim=1).values
    return {"IoU >= 0.5 with either": (best >= 0.5).float().mean().item(), "mean best IoU": best.mean().item(),
            "centre nearer the midpoint": nearer_the_midpoint(predicted, pairs)}


def localization_row(maps, boxes, masks, tau=None, progress=True):
    """One row of the lessons' localization tables, and the :class:`BoxScores` behind it.

    The row: ``MaxBoxAcc`` and its ``best tau``, ``BoxAcc`` at a paper's fixed ``tau``
    (if given; one of :data:`TAUS`), ``MaxBoxAccV2``, ``PxAP`` against ``masks`` (left out
    when ``masks`` is None) and the pointing game, all for maps (N, H, W) at the images' resolution.
    """
    if tau is not None and tau not in TAUS:
        raise ValueError(f"tau must be one of the swept thresholds 0.00, 0.01, ..., 0.99, got {tau}")
    scores = box_scores(maps, boxes, progress=progress)
    accuracy = scores.box_accuracy()
    row = {"MaxBoxAcc": accuracy.max().item(), "best tau": scores.taus[accuracy.argmax()].item()}
    if tau is not None:
        row[f"BoxAcc at tau {tau:g}"] = accuracy[TAUS.index(tau)].item()
    row["MaxBoxAccV2"] = scores.max_box_acc_v2()
    if masks is not None:  # photos have boxes only
        row["PxAP"] = pxap(maps, masks)
    row["pointing game"] = pointing_game(maps, boxes)
    return row, scores


def box_row(predicted, boxes, deltas=(0.3, 0.5, 0.7)):
    """The :func:`localization_row` of a method that outputs one box (N, 4) per image instead of a map.

    With no threshold to choose, ``MaxBoxAcc`` is the share of boxes with IoU >= 0.5,
    ``MaxBoxAccV2`` its mean over ``deltas``, and the pointing game asks whether the
    box's centre lies in a ground-truth box ((N, 4) or (N, G, 4)). PxAP needs a map
    and is left out.
    """
    check_boxes(predicted)
    if predicted.dim() != 2:
        raise ValueError(f"predicted must hold one box per image, (N, 4), got {tuple(predicted.shape)}")
    truth = _as_box_sets(boxes, predicted.shape[0]).to(predicted.device)
    ious = torch.stack([iou(predicted, truth[:, g]) for g in range(truth.shape[1])]).amax(dim=0)
    centre = (predicted[:, None, :2] + predicted[:, None, 2:]) / 2
    inside = ((truth[..., :2] <= centre) & (centre <= truth[..., 2:])).all(dim=-1).any(dim=1)
    return {"MaxBoxAcc": (ious >= 0.5).float().mean().item(),
            "MaxBoxAccV2": sum((ious >= d).float().mean().item() for d in deltas) / len(deltas),
            "pointing game": inside.float().mean().item()}


def centre_baseline(count, size, sigma=0.25):
    """A map that ignores the image: a Gaussian at the centre with std ``sigma * size``, (count, size, size).

    The trivial baseline of weakly supervised localization: objects are often near the centre.
    """
    centres = torch.arange(size, dtype=torch.float32) + 0.5 - size / 2
    bump = torch.exp(-centres.pow(2) / (2 * (sigma * size) ** 2))
    return (bump.view(-1, 1) * bump.view(1, -1)).expand(count, size, size).clone()


# ---------------------------------------------------------------- deletion and insertion
# Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models", BMVC 2018.

#: The substrate of insertion: a Gaussian blur, kernel 11, sigma 5, zero padding (the authors' ``gkern(11, 5)``).
BLUR_KERNEL, BLUR_SIGMA = 11, 5


class CausalCurves(NamedTuple):
    """Deletion or insertion curves of a batch of images."""

    fractions: torch.Tensor  #: (T + 1,) share of the pixels changed at each point
    scores: torch.Tensor  #: (B, T + 1) probability of the class the model predicts for the original image
    auc: torch.Tensor  #: (B,) area under each curve, trapezoid rule, in [0, 1]
    classes: torch.Tensor  #: (B,) the class followed


def blur(images):
    """The insertion substrate: each channel of ``images`` (B, C, H, W) blurred as the authors' code does.

    The kernel is scipy's ``gaussian_filter`` (sigma 5) of an 11 x 11 image holding a single 1 at its
    centre; it is applied with zero padding, in the model's (normalised) input space.
    """
    impulse = torch.zeros(BLUR_KERNEL, BLUR_KERNEL, dtype=torch.float64)
    impulse[BLUR_KERNEL // 2, BLUR_KERNEL // 2] = 1
    kernel = torch.from_numpy(gaussian_filter(impulse.numpy(), BLUR_SIGMA)).to(images)
    channels = images.shape[1]
    return F.conv2d(images, kernel.expand(channels, 1, -1, -1), padding=BLUR_KERNEL // 2, groups=channels)


def curve_auc(curves):
    """Area under curves (B, T + 1) taken at T + 1 evenly spaced points of [0, 1], by the trapezoidal rule: (B,).

    ``(sum - first / 2 - last / 2) / T``, as the RISE authors compute it.
    """
    if curves.dim() != 2 or curves.shape[1] < 2:
        raise ValueError(f"curves must be (B, T + 1) with at least two points, got {tuple(curves.shape)}")
    return (curves.sum(dim=1) - curves[:, 0] / 2 - curves[:, -1] / 2) / (curves.shape[1] - 1)


def causal_curves(model, images, saliency, mode, step=224, batch_size=64, progress=True, deleted="zeros",
                  classes=None):
    """Deletion or insertion curves (Petsiuk et al., 2018) of ``images`` (B, C, H, W) ranked by ``saliency`` (B, H, W).

    Pixels are taken from the most salient down, ``step`` at a time (all channels).
    ``"deletion"`` sets them to 0 (the mean colour of a normalised input): a good map
    makes the probability fall fast (low AUC). ``"insertion"`` starts from
    :func:`blur` of the image and puts the original pixels back: a good map makes it rise
    fast (high AUC). The probability (softmax) is that of the class predicted for the
    original image (or of ``classes`` (B,), the classes the maps explain, if given), at
    ``T + 1`` points, ``T = ceil(H W / step)``; the AUC is :func:`curve_auc`'s. Several
    points and images go through the model together, at most ``batch_size`` inputs per forward pass.
    ``deleted="blur"`` makes deletion put the blurred image where pixels are deleted, instead of zeros
    (insertion's substrate; the paper's deletion uses zeros, RISE's own way of hiding pixels).
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    if deleted not in ("zeros", "blur"):
        raise ValueError(f"deleted must be 'zeros' or 'blur', got {deleted!r}")
    check_int("step", step, 1)
    check_int("batch_size", batch_size, 1)
    if images.dim() != 4 or saliency.shape != (images.shape[0], *images.shape[-2:]):
        raise ValueError(f"saliency must be (B, H, W) = {(images.shape[0], *images.shape[-2:])} for images "
                         f"{tuple(images.shape)}, got {tuple(saliency.shape)}")
    count, pixels = images.shape[0], images.shape[-2] * images.shape[-1]
    order = saliency.flatten(1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(pixels, device=order.device).expand(count, -1))
    rank = rank.view(count, 1, 1, *images.shape[-2:])
    steps = -(-pixels // step)
    changed = (torch.arange(steps + 1, device=images.device) * step).clamp(max=pixels)  # pixels changed per point
    with torch.no_grad():
        if classes is None:
            classes = model(images).argmax(dim=1)
        classes = torch.as_tensor(classes, device=images.device).view(-1)
        if classes.shape[0] != count:
            raise ValueError(f"classes must hold one class per image ({count}), got {classes.shape[0]}")
        removed = torch.zeros_like(images) if deleted == "zeros" else blur(images)
        start, finish = (images, removed) if mode == "deletion" else (blur(images), images)
        per_pass = max(1, batch_size // count)
        scores = []
        for first in tqdm(range(0, steps + 1, per_pass), desc=mode, disable=not progress):
            counts = changed[first:first + per_pass].view(1, -1, 1, 1, 1)
            inputs = torch.where(rank < counts, finish[:, None], start[:, None])  # (B, k, C, H, W)
            probabilities = model(inputs.flatten(0, 1)).softmax(dim=1).view(count, counts.shape[1], -1)
            scores.append(probabilities.gather(2, classes.view(-1, 1, 1).expand(-1, counts.shape[1], 1))[..., 0])
    scores = torch.cat(scores, dim=1)
    return CausalCurves(changed.float() / pixels, scores, curve_auc(scores), classes)
