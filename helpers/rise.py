"""RISE: Randomized Input Sampling for Explanation (Petsiuk, Das, Saenko, BMVC 2018).

A black-box method: it only queries the model. Show it the image through N random
masks M_i and weigh each mask by the score f of the class on the masked image; the
saliency of pixel x is the expected score given that x was kept,

    S(x) = E[f(I * M) | M(x) = 1]  ~  1 / (N p) * sum_i f(I * M_i) M_i(x),

with p the probability that a mask keeps a cell (so E[M(x)] = p). f is the class's
softmax probability in the paper.

The masks, as the authors' code makes them: an s x s grid of cells, each kept (1) with
probability p; upsampled bilinearly to (s + 1) x cell pixels, cell = ceil(H / s), with
mirrored borders (scikit-image's ``resize(..., order=1, mode="reflect")``); then an
H x W window cut at a random offset in [0, cell) along each axis, so that the cells'
edges fall anywhere.

Fewer masks for the same map (issue 22). Most of the noise of a RISE map with few masks
is not about the model: it is the uneven coverage of the masks, since a pixel that N
random masks happened to keep more often than N p times collects more weight whatever
the scores. Two options remove it without changing what is estimated:

- ``sampling="complementary"`` (p = 0.5 only): the masks come in pairs M and 1 - M that
  share one draw (antithetic sampling). Each mask alone has the paper's distribution, and
  every pixel is kept exactly N p times in total (the upsampling is linear and its
  weights sum to 1).
- ``estimator="centred"``: a control variate. Since E[M(x)] = p exactly,
  S(x) = E[f M(x)] / p = E[f] + Cov(f, M(x)) / p, estimated without bias by the mean
  score plus the sample covariance of scores and masks:
  ``f_bar + sum_i (f_i - f_bar)(M_i(x) - M_bar(x)) / ((N - 1) p)``.

Here the random grids and offsets of all N masks are drawn at once (N s^2 numbers),
from ``seed`` on the model's device; the H x W masks are made, used and dropped in
batches of ``batch_size``, so memory does not grow with N, and the map does not depend
on the batch size.

Lesson 06 (06_rise) explains it.
"""

import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from .cam import check_classes, check_images
from .data import check_int

#: What ``f`` can be: the paper's softmax probability, the raw logit, or a sigmoid (multi-label models).
SCORES = ("probability", "logit", "sigmoid")
#: How the masks are drawn: independently (the paper), or in complementary pairs M, 1 - M.
SAMPLINGS = ("independent", "complementary")
#: How they are averaged: the paper's weighted sum, or centred on the mean score (a control variate).
ESTIMATORS = ("paper", "centred")


class Grids(NamedTuple):
    """The random part of N RISE masks: which cells are kept, and where the window is cut."""

    cells: torch.Tensor  #: (N, s, s) float, 1 for a kept cell
    offsets: torch.Tensor  #: (N, 2) the window's (row, column) offset as a fraction of a cell, in [0, 1)


class Rise(NamedTuple):
    """RISE saliency maps and what they were made from."""

    maps: torch.Tensor  #: (B, K, H, W) saliency of each image for each of its K classes
    classes: torch.Tensor  #: (B, K) the explained classes
    scores: torch.Tensor  #: (B, K) f of the unmasked image for those classes


def sample_grids(count, cells=7, keep=0.5, seed=0, device=None, sampling="independent"):
    """The random grids and window offsets of ``count`` masks (see the module's docstring).

    Args:
        count: N >= 1 masks (even for complementary sampling).
        cells: s >= 1, the grid is s x s.
        keep: p in (0, 1], the probability of keeping a cell (0.5 for complementary sampling).
        seed: the draws depend on it (and on the device's generator) only.
        device: where to draw them.
        sampling: one of :data:`SAMPLINGS`; ``"complementary"`` draws N / 2 grids, then their complements
            with the same offsets.
    """
    check_int("count", count, 1)
    check_int("cells", cells, 1)
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    pairs = sampling == "complementary"
    if pairs and (keep != 0.5 or count % 2):
        raise ValueError(f"complementary masks need keep = 0.5 (a mask and its complement then have the same "
                         f"distribution) and an even count, got keep = {keep}, count = {count}")
    drawn = count // 2 if pairs else count
    generator = torch.Generator(device=device or "cpu").manual_seed(seed)
    kept = (torch.rand(drawn, cells, cells, generator=generator, device=device) < keep).float()
    # the offset is drawn in cells' fractions here and turned into pixels by masks_from (the cell depends on H, W)
    offsets = torch.rand(drawn, 2, generator=generator, device=device)
    if pairs:
        kept, offsets = torch.cat([kept, 1 - kept]), torch.cat([offsets, offsets])
    return Grids(kept, offsets)


def _upsampling_matrix(side, size, device=None):
    """(size, side) matrix of 1-D bilinear upsampling, pixel centres aligned, borders mirrored (``mode="reflect"``)."""
    source = (torch.arange(size, device=device, dtype=torch.float64) + 0.5) * side / size - 0.5
    low = source.floor()
    period = max(2 * (side - 1), 1)  # mirror: -1 -> 1, side -> side - 2; a single cell mirrors to itself

    def mirrored(index):
        index = index.long().remainder(period)
        return torch.where(index >= side, period - index, index)

    matrix = torch.zeros(size, side, device=device, dtype=torch.float64)
    rows = torch.arange(size, device=device)
    matrix.index_put_((rows, mirrored(low)), 1 - (source - low), accumulate=True)
    matrix.index_put_((rows, mirrored(low + 1)), source - low, accumulate=True)
    return matrix.float()


def masks_from(grids, size):
    """The masks (N, H, W) of ``grids`` for images of ``size`` (H, W).

    Each grid upsampled to ``(s + 1) cell`` pixels per axis and cut to H x W at its
    offset, written as ``rows @ grid @ cols^T`` with the rows of the (separable)
    upsampling matrices that the window keeps.
    """
    s = grids.cells.shape[-1]
    picked = []
    for axis, length in enumerate(size):
        cell = math.ceil(length / s)
        matrix = _upsampling_matrix(s, (s + 1) * cell, grids.cells.device)
        start = (grids.offsets[:, axis] * cell).long()  # in [0, cell)
        picked.append(matrix[start[:, None] + torch.arange(length, device=matrix.device)])  # (N, length, s)
    rows, cols = picked
    return rows @ grids.cells @ cols.transpose(1, 2)


def make_masks(count, size, cells=7, keep=0.5, seed=0, device=None):
    """``count`` RISE masks (N, H, W) for images of ``size`` (H, W), all at once (for small N and figures)."""
    return masks_from(sample_grids(count, cells, keep, seed, device), size)


def _score(logits, score):
    if score == "probability":
        return logits.softmax(dim=-1)
    return logits.sigmoid() if score == "sigmoid" else logits


def masked_scores(model, images, classes, masks, score="probability"):
    """``f_c(I * M_i)``: the score of each image's classes with each mask applied, (B, n, K).

    ``images`` (B, C, H, W), ``classes`` (B, K) indices, ``masks`` (n, H, W) in [0, 1]
    (a hidden pixel becomes 0, the normalised input's mean colour); one forward pass
    of B n masked images, without gradients. RISE's ingredient, and occlusion's.
    """
    if masks.dim() != 3 or masks.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"masks must be (n, H, W) with the images' H, W = {tuple(images.shape[-2:])}, "
                         f"got {tuple(masks.shape)}")
    with torch.no_grad():
        masked = images[:, None] * masks[None, :, None]  # (B, n, C, H, W)
        scores = _score(model(masked.flatten(0, 1)), score).view(images.shape[0], masks.shape[0], -1)
    return scores.gather(2, classes[:, None, :].expand(-1, masks.shape[0], -1))


def rise(model, images, classes=None, *, masks=4000, cells=7, keep=0.5, batch_size=100, score="probability",
         seed=0, sampling="independent", estimator="paper", progress=True):
    """RISE saliency maps of ``images`` (B, C, H, W) for their ``classes``, all from one set of N masks.

    Args:
        model: a classifier in eval mode, (B, C, H, W) -> (B, classes) logits.
        classes: None (each image's predicted class), (B,) or (B, K) class indices.
        masks: N, the number of masks.
        cells, keep, seed: s, p and the seed of :func:`sample_grids`.
        batch_size: masks per forward pass (each pass sees B x batch_size masked images).
        score: f, one of :data:`SCORES`.
        sampling: one of :data:`SAMPLINGS` (see :func:`sample_grids`).
        estimator: one of :data:`ESTIMATORS` (``"centred"`` needs N >= 2).
        progress: show a progress bar over the batches.

    Returns:
        :class:`Rise`: ``maps`` (B, K, H, W) = ``1 / (N p) sum_i f_c(I * M_i) M_i`` (the paper's estimator),
        or ``f_bar + sum_i (f_i - f_bar)(M_i - M_bar) / ((N - 1) p)`` (centred); both estimate
        ``E[f M(x)] / p``.
    """
    check_images(model, images)
    check_int("batch_size", batch_size, 1)
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "centred" and masks < 2:
        raise ValueError(f"the centred estimator needs at least 2 masks, got {masks}")
    grids = sample_grids(masks, cells, keep, seed, images.device, sampling)
    count, size = images.shape[0], images.shape[-2:]
    with torch.no_grad():
        unmasked = _score(model(images), score)
        if classes is None:
            classes = unmasked.argmax(dim=1)
        classes = check_classes(classes, count, unmasked.shape[1], images.device)
        total = images.new_zeros(count, classes.shape[1], size[0] * size[1])
        score_sum, mask_sum = images.new_zeros(count, classes.shape[1], 1), images.new_zeros(size[0] * size[1])
        for start in tqdm(range(0, masks, batch_size), desc="RISE, batches of masks", disable=not progress):
            chunk = masks_from(Grids(grids.cells[start:start + batch_size], grids.offsets[start:start + batch_size]),
                               size)  # (n, H, W)
            weights = masked_scores(model, images, classes, chunk, score)  # (B, n, K)
            total += weights.transpose(1, 2) @ chunk.flatten(1)  # (B, K, n) @ (n, H W)
            score_sum += weights.sum(dim=1)[..., None]
            mask_sum += chunk.flatten(1).sum(dim=0)
    if estimator == "paper":
        maps = total / (masks * keep)
    else:  # sum_i (f_i - f_bar)(M_i - M_bar) = sum_i f_i M_i - N f_bar M_bar
        mean_score = score_sum / masks
        maps = mean_score + (total - mean_score * mask_sum) / ((masks - 1) * keep)
    maps = maps.view(count, classes.shape[1], *size)
    return Rise(maps, classes, unmasked.gather(1, classes))
