"""Every method of the course on the same images: one call shape, timed, and the sanity check of the weights.

Each method answers ``explain(method, model, images, classes)`` with maps (B, H, W)
in [0, 1] at the images' size (each map min-max normalised, as the metrics read
them), so lesson 07 can score CAM (Zhou et al., 2016), Grad-CAM (Selvaraju et
al., 2017), Augmented Grad-CAM (Morbidelli et al., 2020), RISE (Petsiuk et al.,
2018) and two maps that ignore the model (a centre Gaussian and uniform noise)
with the same metrics, and time them on the same work.

The model-parameter randomisation test (Adebayo et al., "Sanity Checks for
Saliency Maps", NeurIPS 2018): re-initialise the network's layers one at a time
from the output down (:func:`cascading_randomization`) and measure how much each
map still resembles the trained model's map, by Spearman's rank correlation
(:func:`rank_correlation`) and by their structural similarity
(:func:`structural_similarity`). A map that does not change when the weights are
destroyed cannot be explaining what the weights learned.

Explained in 07_comparison.
"""

import copy
import time
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augmented import augmented_grad_cam, baselines, grad_cam_views, sample_augmentations
from .cam import cam, check_images, upsample
from .data import check_int
from .gradcam import grad_cam
from .metrics import box_row, causal_curves, centre_baseline, localization_row, normalize_maps, pointing_hits
from .rise import rise

#: The methods lesson 07 compares, in the course's order, then the two maps that ignore the model.
METHODS = ("CAM", "Grad-CAM", "Augmented Grad-CAM", "RISE", "centre Gaussian", "random")
#: Lesson 05's baselines of Augmented Grad-CAM: the same views warped back and combined by a maximum or a mean.
WARPED_VIEWS = {"warped views, max": "max", "warped views, mean": "mean"}
#: Every map :func:`explain` knows.
ALL_METHODS = METHODS[:4] + tuple(WARPED_VIEWS) + METHODS[4:]


class Timed(NamedTuple):
    """Maps of one method and what they cost."""

    maps: torch.Tensor  #: (N, H, W) in [0, 1]
    seconds_per_image: float  #: wall-clock time of the method divided by N


def explain(method, model, images, classes, *, layer=None, views=32, resolution=None, masks=1000, seed=0):
    """The maps (B, H, W) in [0, 1] of one of :data:`ALL_METHODS` for ``images`` (B, C, H, W) and ``classes`` (B,).

    ``layer`` is Grad-CAM's and Augmented Grad-CAM's layer (``None``: the map the
    classifier head reads), ``views`` and ``resolution`` Augmented Grad-CAM's number of
    copies L and solver grid (the warped views' too), ``masks`` RISE's N; ``seed`` draws the warps, the
    masks and the random map. Each method runs with the defaults of its lesson otherwise.
    """
    if method not in ALL_METHODS:
        raise ValueError(f"method must be one of {ALL_METHODS}, got {method!r}")
    check_images(model, images)  # also for the maps that ignore the model: the same inputs for every method
    size = images.shape[-2:]
    column = torch.as_tensor(classes, device=images.device).view(-1, 1)
    if method == "CAM":
        maps = upsample(cam(model, images, column).maps, size)[:, 0]
    elif method == "Grad-CAM":
        maps = upsample(grad_cam(model, images, column, layer=layer).maps, size)[:, 0]
    elif method == "Augmented Grad-CAM":
        maps = augmented_grad_cam(model, images, column[:, 0], views=views, layer=layer, seed=seed,
                                  resolution=resolution, progress=False).map
    elif method in WARPED_VIEWS:
        if size[0] != size[1]:
            raise ValueError(f"the warped views need square images, got {tuple(size)}")
        augmentations = sample_augmentations(views, seed=seed)
        maps = baselines(grad_cam_views(model, images, column[:, 0], augmentations, layer), augmentations,
                         size[0])[WARPED_VIEWS[method]]
    elif method == "RISE":
        maps = rise(model, images, column, masks=masks, seed=seed, progress=False).maps[:, 0]
    elif method == "centre Gaussian":
        if size[0] != size[1]:
            raise ValueError(f"the centre Gaussian needs square images, got {tuple(size)}")
        maps = centre_baseline(images.shape[0], size[0]).to(images.device)
    else:
        generator = torch.Generator().manual_seed(seed)
        maps = torch.rand(images.shape[0], *size, generator=generator).to(images.device)
    return normalize_maps(maps)


def explain_all(model, images, classes, methods=METHODS, *, batch_size=50, progress=True, **options):
    """:func:`explain` for each of ``methods`` over ``images`` in chunks of ``batch_size``, timed.

    Returns ``{method: Timed(maps (N, H, W), seconds per image)}``; the time is the
    wall clock of the method's chunks (CUDA synchronised), so methods that share a
    device are timed on the same work. ``options`` go to :func:`explain`.
    """
    check_int("batch_size", batch_size, 1)
    classes = torch.as_tensor(classes, device=images.device).view(-1)
    if classes.shape[0] != images.shape[0]:
        raise ValueError(f"classes must hold one class per image ({images.shape[0]}), got {classes.shape[0]}")
    results = {}
    for method in tqdm(methods, desc="methods", disable=not progress):
        chunks, seconds = [], 0.0
        for first in tqdm(range(0, images.shape[0], batch_size), desc=method, leave=False, disable=not progress):
            part = slice(first, first + batch_size)
            if images.is_cuda:
                torch.cuda.synchronize(images.device)
            start = time.perf_counter()
            chunks.append(explain(method, model, images[part], classes[part], **options))
            if images.is_cuda:
                torch.cuda.synchronize(images.device)
            seconds += time.perf_counter() - start
        results[method] = Timed(torch.cat(chunks), seconds / images.shape[0])
    return results


def score(model, images, boxes, masks, explained, *, regressor_boxes=None, causal=True, step=256, batch_size=256,
          classes=None, per_image=None, progress=True):
    """The comparison table: one row per method of ``explained`` (from :func:`explain_all`).

    Each row: MaxBoxAcc (and its tau), MaxBoxAccV2, PxAP and the pointing game
    (:func:`helpers.metrics.localization_row` against ``boxes`` and ``masks``; with
    ``masks=None``, as for the photos, no PxAP), the mean deletion and insertion AUC
    (:func:`helpers.metrics.causal_curves`, ``step`` pixels per point, the probability of ``classes``
    (default: the predicted ones); left out unless ``causal``) and seconds per image.
    ``regressor_boxes`` (N, 4), if given, adds the row of a box regressor
    (:func:`helpers.metrics.box_row`), which has no map. A dict ``per_image``, if given,
    receives each method's values image by image (N,): the IoU behind MaxBoxAcc (at its
    best tau), the pointing game's hits and the AUCs, for :func:`helpers.metrics.paired_bootstrap`.
    """
    rows = []
    for method, (maps, seconds) in tqdm(explained.items(), desc="scoring", disable=not progress):
        row, scores = localization_row(maps, boxes, masks, progress=False)
        aucs = {f"{mode} AUC": causal_curves(model, images, maps, mode, step=step, batch_size=batch_size,
                                             classes=classes, progress=False).auc
                for mode in (("deletion", "insertion") if causal else ())}
        rows.append({"method": method, **row, **{k: v.mean().item() for k, v in aucs.items()}, "s / image": seconds})
        if per_image is not None:
            per_image[method] = {"IoU at best tau": scores.largest[scores.box_accuracy().argmax()],
                                 "pointing game": pointing_hits(maps, boxes).float(), **aucs}
    if regressor_boxes is not None:
        rows.append({"method": "box regressor (lesson 01)", **box_row(regressor_boxes, boxes)})
    return rows


def _weighted_layers(module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _randomization_steps(model, groups):
    """The groups of ``model`` to re-initialise, from the top: ``groups`` checked, or every conv and linear layer."""
    named = dict(model.named_modules())
    if groups is None:
        return [name for name, m in named.items() if isinstance(m, (nn.Conv2d, nn.Linear))][::-1]
    names = list(groups)
    missing = [name for name in names if name not in named]
    if missing:
        raise ValueError(f"no module named {missing[0]!r} in the model")
    if not all(_weighted_layers(named[name]) for name in names):
        raise ValueError("every group must hold at least one convolution or linear layer")
    return names


def cascading_randomization(model, groups=None, seed=0, cascading=True):
    """Copies of ``model`` with more and more of its layers re-initialised, from the output down.

    ``groups`` names the parts re-initialised together at each step, from the top
    (dotted module names, e.g. ``["classifier", "conv_head", "blocks.6"]``); by
    default every convolution and linear layer is its own step. Each step resets
    the convolutions and linear layers of its group to PyTorch's default random
    initialisation (batch-norm layers keep their statistics) on top of the steps
    before it, as in Adebayo et al.'s cascading test. With ``cascading=False`` each
    step re-initialises its group alone in a fresh copy of the trained model (their
    independent test), with the same random weights as in the cascade.

    Yields ``(name of the group just randomised, model copy in eval mode)``; the
    first item is ``("none", copy of the trained model)``. ``model`` is not changed.
    """
    names = _randomization_steps(model, groups)
    randomized = copy.deepcopy(model).eval()
    yield "none", copy.deepcopy(randomized)
    for step, name in enumerate(names):
        if not cascading:
            randomized = copy.deepcopy(model).eval()
        with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
            torch.manual_seed(seed + step)
            for layer in _weighted_layers(dict(randomized.named_modules())[name]):
                layer.reset_parameters()
        yield name, copy.deepcopy(randomized)


class Randomization(NamedTuple):
    """What the cascading randomisation test found, stage by stage ("none" first: the trained model)."""

    stages: list  #: the group re-initialised at each stage, from :func:`cascading_randomization`
    correlations: dict  #: {method: [mean rank correlation with the trained model's maps, per stage]}
    maps: dict  #: {method: [(N, H, W) maps, per stage]}
    per_image: dict  #: {method: (stages, N) rank correlation of each image's map with its trained map}
    ssim: dict  #: {method: (stages, N) :func:`structural_similarity` of each map with its trained map}


def randomization_test(model, images, classes, methods=METHODS, *, groups=None, seed=0, cascading=True,
                       progress=True, **options):
    """Adebayo et al.'s cascading test: each method's maps at every stage of :func:`cascading_randomization`
    and their mean :func:`rank_correlation` with the trained model's maps (made once with ``seed``);
    ``cascading=False`` runs their independent test instead (one group re-initialised at a time).

    RISE is random, so it draws new masks at each stage (seed ``seed + 1 + stage``): with
    shared masks a network whose score hardly changes still gives the sum of the same masks,
    and that shared sampling noise would pass for resemblance. Its "none" stage is then its
    own reproducibility, the level to fall from. ``options`` go to :func:`explain`.
    """
    reference = explain_all(model, images, classes, methods, progress=False, seed=seed, **options)
    stages, maps = [], {m: [] for m in methods}
    per_image, ssim = {m: [] for m in methods}, {m: [] for m in methods}
    total = (len(groups) if groups is not None else len(_weighted_layers(model))) + 1
    cascade = cascading_randomization(model, groups=groups, seed=seed, cascading=cascading)
    for stage, (name, randomized) in enumerate(tqdm(cascade, total=total, desc="randomisation",
                                                    disable=not progress)):
        stages.append(name)
        for method in methods:
            draw = seed + 1 + stage if method == "RISE" else seed
            found = explain_all(randomized, images, classes, [method], progress=False, seed=draw, **options)[method]
            per_image[method].append(rank_correlation(reference[method].maps, found.maps))
            ssim[method].append(structural_similarity(reference[method].maps, found.maps))
            maps[method].append(found.maps)
    per_image = {m: torch.stack(values) for m, values in per_image.items()}
    correlations = {m: values.mean(dim=1).tolist() for m, values in per_image.items()}
    return Randomization(stages, correlations, maps, per_image, {m: torch.stack(v) for m, v in ssim.items()})


def _average_ranks(values):
    """Ranks 0..P-1 of each row of ``values`` (N, P), ties sharing the mean of their ranks."""
    rows = []
    for row in values:
        _, inverse, counts = torch.unique(row, sorted=True, return_inverse=True, return_counts=True)
        ends = counts.cumsum(0).double()
        rows.append(((2 * ends - counts.double() - 1) / 2)[inverse])
    return torch.stack(rows)


def rank_correlation(maps_a, maps_b):
    """Spearman's rank correlation of each pair of maps (N, H, W), (N,): the Pearson correlation of their ranks.

    Tied values (a ReLU'd map's zeros) share their mean rank. A constant map (a
    Grad-CAM whose ReLU removed everything) ranks no pixel above another: its
    correlation with any map is 0.
    """
    if maps_a.shape != maps_b.shape or maps_a.dim() != 3:
        raise ValueError(f"need two stacks of maps of one shape (N, H, W), got {tuple(maps_a.shape)} and "
                         f"{tuple(maps_b.shape)}")
    a, b = (_average_ranks(m.flatten(1).detach().cpu()) for m in (maps_a, maps_b))
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    norms = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norms > 0, (a * b).sum(dim=1) / norms.clamp(min=1e-300), 0.0).float()


def structural_similarity(maps_a, maps_b, sigma=1.5):
    """Mean SSIM of each pair of maps (N, H, W) in [0, 1], (N,) (Wang et al., 2004; used by Adebayo et al., 2018).

    ``SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2))`` with
    local means, variances and covariance under a Gaussian window (``sigma``, cut at 3.5
    sigma), ``C1 = 0.01^2`` and ``C2 = 0.03^2`` (data range 1), averaged over the
    positions whose window lies inside the map: scikit-image's ``structural_similarity``
    with ``gaussian_weights=True, use_sample_covariance=False, data_range=1``. Unlike a
    rank correlation it compares local structure (edges, blobs), and it is 1 only for
    equal maps.
    """
    if maps_a.shape != maps_b.shape or maps_a.dim() != 3:
        raise ValueError(f"need two stacks of maps of one shape (N, H, W), got {tuple(maps_a.shape)} and "
                         f"{tuple(maps_b.shape)}")
    radius = int(3.5 * sigma + 0.5)
    if min(maps_a.shape[-2:]) <= 2 * radius:
        raise ValueError(f"maps must be larger than the {2 * radius + 1}-pixel window, got {tuple(maps_a.shape[-2:])}")
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    line = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    line = (line / line.sum()).to(maps_a.device)

    def smooth(x):  # the Gaussian window is separable: one pass down the columns, one along the rows
        return F.conv2d(F.conv2d(x, line.view(1, 1, -1, 1)), line.view(1, 1, 1, -1))

    a, b = (m.detach().to(torch.float64)[:, None] for m in (maps_a, maps_b))
    mean_a, mean_b, aa, bb, ab = (smooth(x) for x in (a, b, a * a, b * b, a * b))
    var_a, var_b, cov = aa - mean_a ** 2, bb - mean_b ** 2, ab - mean_a * mean_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    index = (2 * mean_a * mean_b + c1) * (2 * cov + c2) / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))
    return index.flatten(1).mean(dim=1).to(maps_a.dtype)
