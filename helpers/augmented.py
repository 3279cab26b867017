"""Augmented Grad-CAM (Morbidelli, Carrera, Rossi, Fragneto, Boracchi, ICASSP 2020, "Augmented
Grad-CAM: Heat-Maps Super Resolution Through Augmentation").

A Grad-CAM map lives on the coarse grid of the explained layer (7 x 7 or 14 x 14).
Take L warped copies ``A_l(I)`` of the image (copy 0 the identity), compute the
Grad-CAM ``g_l`` of each, divided by its own maximum, and look for the one fine
map ``h`` that, warped like each copy and shrunk to the grid, explains them all:

    min_h  sum_l || M_l (D(A_l h) - g_l) ||^2  +  lambda * TV(h)  +  mu * ||h||^2,

with ``A_l`` the l-th warp (rotation, scaling, translation; bilinear), ``D`` the
reduction to the grid and ``TV(h) = sum |h[i, j+1] - h[i, j]| + |h[i+1, j] - h[i, j]|``
the anisotropic total variation, and ``M_l`` the cells of copy l that lie wholly
inside the warped image (see below). Copies shifted by a fraction of a grid cell
see the map through differently placed cells: together they carry finer detail
than any one of them.

Choices made here (measured in bench/README.md):

- ``D`` is antialiased bilinear reduction (an average over each cell's footprint),
  not the point sampling of an un-antialiased resize.
- The map is solved on a grid ``resolution`` pixels wide (default: 8 times the
  layer's grid, at most the image) and upsampled bilinearly to the image. Finer
  detail than that is not in the data: L copies of a 14 x 14 map hold ``196 L``
  numbers. The weights are rescaled so that the problem is the image-size one
  (``lambda * H / resolution`` and ``mu * (H / resolution)^2``: total variation
  scales with the side, the squared norm with the area).
- Cells of a copy that see past the image's edge (``D(A_l 1) < INSIDE``) are left
  out of the data term (``M_l = 0``). A warped copy is padded where it leaves the
  image, and its Grad-CAM there still answers to the object next to the padding,
  heat that no map inside the image can explain: fitted, it puts spikes on the
  map's border (on 200 shapes test images MaxBoxAcc fell from 0.84 to 0.74). The
  paper's formula has no ``M_l``; for cells wholly inside the image it is unchanged.
- The solver is L-BFGS on the objective with the absolute values of TV smoothed to
  ``sqrt(x^2 + eps^2)`` (eps = 1e-3); the objective it reports is the exact one.
  The authors' Adam (lr 1e-3, 200 steps from zeros) moves a pixel by at most about
  0.2, short of maps that reach 1; it is available as ``solver="adam"``.

Lesson 05 (05_augmented_gradcam) explains it and measures it.
"""

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .cam import check_images
from .gradcam import grad_cam

#: The authors' defaults: rotations within +-0.5 rad, translations within +-30 px of 224.
ROTATION = (-math.degrees(0.5), math.degrees(0.5))
TRANSLATION = (-30 / 224, 30 / 224)
SMOOTHING = 1e-3
#: A copy's cell is fitted when at least this share of it lies inside the warped image.
INSIDE = 0.99
#: The authors' weights of TV and of the squared norm, per view, for the image-size problem.
LAMBDA_PER_VIEW, MU_PER_VIEW = 0.002, 0.0001


class Augmentations(NamedTuple):
    """L similarity warps: rotate by ``angles`` about the centre, scale, then shift."""

    angles: torch.Tensor  #: (L,) degrees, counter-clockwise on the screen
    scales: torch.Tensor  #: (L,) zoom factors
    shifts: torch.Tensor  #: (L, 2) (right, down) shifts as fractions of the image side


class AugmentedGradCam(NamedTuple):
    """An Augmented Grad-CAM map with what it was made of."""

    map: torch.Tensor  #: (B, S, S) the super-resolved maps at the image size
    solution: torch.Tensor  #: (B, r, r) the solver's maps before upsampling
    views: torch.Tensor  #: (B, L, h, w) the Grad-CAMs g_l of the copies, each divided by its maximum
    augmentations: Augmentations  #: the warps A_l
    objective: list  #: the exact objective at each of the solver's evaluations
    classes: torch.Tensor  #: (B,) the explained class of each image


def _check_range(name, bounds):
    low, high = (float(b) for b in bounds)
    if not low <= high:
        raise ValueError(f"{name} range must be (low, high) with low <= high, got {tuple(bounds)}")
    return low, high


def sample_augmentations(count, *, rotation=ROTATION, translation=TRANSLATION, scale=(1.0, 1.0), seed=0):
    """``count`` warps drawn uniformly from the ranges, copy 0 the identity.

    Args:
        count: L >= 1.
        rotation: (low, high) angle in degrees (default: the authors' +-0.5 rad).
        translation: (low, high) shift along each axis as a fraction of the image side
            (default: the authors' +-30 px of 224).
        scale: (low, high) zoom factor (default: none, as the authors).
        seed: the draws depend on it only.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    (r0, r1), (t0, t1), (s0, s1) = (_check_range(n, b) for n, b in
                                    (("rotation", rotation), ("translation", translation), ("scale", scale)))
    if s0 <= 0:
        raise ValueError(f"scale must be positive, got {tuple(scale)}")
    generator = torch.Generator().manual_seed(seed)

    def draw(low, high, *shape):
        values = low + (high - low) * torch.rand(count, *shape, generator=generator)
        values[0] = 1.0 if (low, high) == (s0, s1) else 0.0  # copy 0: the identity
        return values

    return Augmentations(draw(r0, r1), draw(s0, s1), draw(t0, t1, 2))


def _matrices(augmentations, inverse=False):
    """(L, 2, 3) ``affine_grid`` matrices in normalised coordinates: output point -> input point."""
    angle = torch.deg2rad(augmentations.angles.float())
    cos, sin = torch.cos(angle), torch.sin(angle)
    # y points down on the screen, so a counter-clockwise turn is [[cos, sin], [-sin, cos]]
    turn = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    zoom = augmentations.scales.float()[:, None, None]
    shift = 2 * augmentations.shifts.float()  # fractions of the side -> normalised units ([-1, 1] spans the side)
    if inverse:  # output of the inverse warp at p samples the warped image at zoom * turn @ p + shift
        return torch.cat([zoom * turn, shift[..., None]], dim=-1)
    back = turn.transpose(-2, -1) / zoom  # the warped image at p samples the original at back @ (p - shift)
    return torch.cat([back, -(back @ shift[..., None])], dim=-1)


def _grid(augmentations, side, inverse=False, device=None, dtype=torch.float32):
    """(L, S, S, 2) sampling grid of the L warps (or of their inverses) for S x S maps."""
    theta = _matrices(augmentations, inverse).to(device=device, dtype=dtype)
    return F.affine_grid(theta, [len(theta), 1, side, side], align_corners=False)


def _sample(flat, grid):
    """Maps (N L, C, S, S), the l-th of every L warped by the l-th of ``grid``; zeros outside."""
    grid = grid.repeat(flat.shape[0] // grid.shape[0], 1, 1, 1)
    return F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp(x, augmentations, inverse=False):
    """Warp l applied to the l-th map of ``x`` (..., L, C, S, S), for every l; same shape back.

    Bilinear sampling, zeros outside the image; ``inverse=True`` undoes each warp.
    To apply all L warps to one image, expand it: ``image[..., None, :, :, :].expand(..., L, C, S, S)``.
    """
    count = len(augmentations.angles)
    if x.dim() < 4 or x.shape[-1] != x.shape[-2] or x.shape[-4] != count:
        raise ValueError(f"warp needs square maps (..., L={count}, C, S, S), got {tuple(x.shape)}")
    grid = _grid(augmentations, x.shape[-1], inverse, x.device, x.dtype)
    return _sample(x.reshape(-1, *x.shape[-3:]), grid).view(x.shape)


def _reduction_matrix(side, size, device=None, dtype=torch.float32):
    """(size, side) matrix R of 1-D antialiased bilinear reduction: ``D(x) = R_h x R_w^T`` (it is separable)."""
    basis = torch.eye(side, device=device, dtype=dtype).view(side, 1, 1, side)
    return F.interpolate(basis, size=(1, size), mode="bilinear", antialias=True, align_corners=False).view(side, size).T


def reduce(maps, size):
    """``D``: maps (..., S, S) averaged down to ``size`` (h, w) by antialiased bilinear interpolation."""
    rows, cols = (_reduction_matrix(maps.shape[-1], n, maps.device, maps.dtype) for n in size)
    return rows @ maps @ cols.T


def operator(augmentations, resolution, size, device=None, dtype=torch.float32):
    """The function h (B, r, r) -> ``D(A_l h)`` (B, L, h, w), with the warps' sampling grid and D built once."""
    count = len(augmentations.angles)
    grid = _grid(augmentations, resolution, device=device, dtype=dtype)
    rows, cols = (_reduction_matrix(resolution, n, device, dtype) for n in size)

    def apply(h):
        copies = _sample(h.repeat_interleave(count, dim=0)[:, None], grid)
        return rows @ copies.view(h.shape[0], count, resolution, resolution) @ cols.T

    return apply


def forward_operator(h, augmentations, size):
    """``D(A_l h)`` for every l: maps h (B, S, S) as each copy's layer would see them, (B, L, h, w)."""
    return operator(augmentations, h.shape[-1], size, h.device, h.dtype)(h)


def total_variation(h, eps=0.0):
    """Anisotropic TV of maps (..., S, S), summed, with each |x| smoothed to sqrt(x^2 + eps^2) - eps if ``eps > 0``."""
    differences = torch.cat([(h[..., :, 1:] - h[..., :, :-1]).flatten(), (h[..., 1:, :] - h[..., :-1, :]).flatten()])
    if eps > 0:
        return (torch.sqrt(differences ** 2 + eps ** 2) - eps).sum()
    return differences.abs().sum()


def inside_cells(apply, resolution, device=None, dtype=torch.float32):
    """``M_l`` (L, h, w) for an :func:`operator`: 1 where a copy's cell lies inside the warped image
    (``D(A_l 1) >= INSIDE``), else 0."""
    return (apply(torch.ones(1, resolution, resolution, device=device, dtype=dtype))[0] >= INSIDE).to(dtype)


def unexplained(views, solution, augmentations):
    """The share of the views (B, L, h, w) that the solved maps (B, r, r) leave unexplained, on the cells inside
    the image: ``||M (D(A h) - g)|| / ||M g||``, near 0 when the views are warped copies of one map."""
    apply = operator(augmentations, solution.shape[-1], views.shape[-2:], views.device, views.dtype)
    inside = inside_cells(apply, solution.shape[-1], views.device, views.dtype)
    return (((apply(solution) - views) * inside).norm() / (views * inside).norm()).item()


def _fit(h, views, apply, inside, mu):
    """The smooth part of the objective: the views' misfit on the cells inside the image plus ``mu ||h||^2``."""
    return (((apply(h) - views) * inside) ** 2).sum() + mu * (h ** 2).sum()


def objective(h, views, augmentations, lam, mu):
    """``sum_l ||M_l (D(A_l h) - g_l)||^2 + lam TV(h) + mu ||h||^2``, summed over the maps h (B, S, S) and
    views (B, L, h, w)."""
    apply = operator(augmentations, h.shape[-1], views.shape[-2:], h.device, h.dtype)
    inside = inside_cells(apply, h.shape[-1], h.device, h.dtype)
    return _fit(h, views, apply, inside, mu) + lam * total_variation(h)


def solve(views, augmentations, resolution, lam, mu, iterations=100, solver="lbfgs", lr=None, progress=True):
    """The maps h (B, resolution, resolution) minimising :func:`objective` for views (B, L, h, w), from zeros.

    The B problems are independent; they are solved together (their objectives add up).
    Returns the maps and the objective's history.

    ``solver``: ``"lbfgs"`` (default: TV smoothed by ``SMOOTHING``, strong-Wolfe
    line search, at most ``iterations`` iterations, learning rate ``lr`` 1 by default)
    or ``"adam"`` (the authors': exact TV, ``iterations`` steps, ``lr`` 1e-3 by
    default). The history holds the *exact* objective at every evaluation (for
    L-BFGS these include the line search's trial points).
    """
    if solver not in ("lbfgs", "adam"):
        raise ValueError(f"solver must be 'lbfgs' or 'adam', got {solver!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")
    apply = operator(augmentations, resolution, views.shape[-2:], views.device, views.dtype)
    inside = inside_cells(apply, resolution, views.device, views.dtype)
    h = torch.zeros(views.shape[0], resolution, resolution, device=views.device, dtype=views.dtype,
                    requires_grad=True)
    eps = SMOOTHING if solver == "lbfgs" else 0.0
    history = []
    bar = tqdm(desc=f"solver ({solver}), evaluations", disable=not progress)

    def closure():
        optimizer.zero_grad()
        fit = _fit(h, views, apply, inside, mu)
        value = fit + lam * total_variation(h, eps)
        value.backward()
        history.append((fit.detach() + lam * total_variation(h.detach())).item())
        bar.update(1)
        return value

    with torch.enable_grad():
        if solver == "adam":
            optimizer = torch.optim.Adam([h], lr=1e-3 if lr is None else lr)
            for _ in range(iterations):
                optimizer.step(closure)
        else:
            optimizer = torch.optim.LBFGS([h], lr=1.0 if lr is None else lr, max_iter=iterations,
                                          max_eval=2 * iterations, history_size=20, line_search_fn="strong_wolfe",
                                          tolerance_grad=1e-9, tolerance_change=1e-12)
            optimizer.step(closure)
    bar.close()
    return h.detach(), history


def grad_cam_views(model, images, classes, augmentations, layer=None, reference="own"):
    """``g_l``: Grad-CAM of every warped copy of every image, each divided by its own maximum, (B, L, h, w).

    One :func:`helpers.gradcam.grad_cam` call for all B x L copies; a map with no
    positive value stays zero. ``reference="copy 0"`` divides every view by the
    unwarped copy's maximum instead (lesson 05's exercise 3), keeping the views'
    heights relative to each other.
    """
    if reference not in ("own", "copy 0"):
        raise ValueError(f"reference must be 'own' or 'copy 0', got {reference!r}")
    count = len(augmentations.angles)
    copies = warp(images[:, None].expand(-1, count, -1, -1, -1), augmentations)
    maps = grad_cam(model, copies.flatten(0, 1), classes.repeat_interleave(count), layer).maps[:, 0]
    maps = maps.view(images.shape[0], count, *maps.shape[-2:])
    peak = maps.amax(dim=(-2, -1), keepdim=True)
    if reference == "copy 0":
        peak = peak[:, :1]
    return torch.where(peak > 0, maps / peak.clamp(min=torch.finfo(maps.dtype).tiny), 0.0)


def grid_weights(count, side, resolution, lam=None, mu=None):
    """The weights (lambda, mu) of the image-size problem (default: the authors', scaled by the L = ``count``
    views) rescaled to a ``resolution`` grid for images ``side`` pixels wide: TV scales with the side, the
    squared norm with the area."""
    factor = side / resolution
    lam = LAMBDA_PER_VIEW * count if lam is None else lam
    mu = MU_PER_VIEW * count if mu is None else mu
    return lam * factor, mu * factor ** 2


def super_resolve(views, augmentations, side, lam=None, mu=None, resolution=None, iterations=100, solver="lbfgs",
                  progress=True):
    """The map (B, side, side) that explains the views g_l (B, L, h, w) of images ``side`` pixels wide.

    Solves :func:`objective` on a ``resolution`` grid (default: 8 times the views'
    grid, at most ``side``) with the weights of the image-size problem ``lam``, ``mu``
    (default: the authors' 0.002 L and 0.0001 L) rescaled to that grid (:func:`grid_weights`), then
    upsamples bilinearly. Returns ``(map, solution, history)``.
    """
    count, low = views.shape[1], max(views.shape[-2:])
    resolution = min(8 * low, side) if resolution is None else resolution
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not low <= resolution <= side:
        raise ValueError(f"resolution must be an int between the layer's grid ({low}) and the image side ({side}), "
                         f"got {resolution!r}")
    solution, history = solve(views, augmentations, resolution, *grid_weights(count, side, resolution, lam, mu),
                              iterations, solver, progress=progress)
    full = F.interpolate(solution[:, None], size=(side, side), mode="bilinear", align_corners=False)[:, 0]
    return full, solution, history


def augmented_grad_cam(model, images, classes=None, *, views=32, rotation=ROTATION, translation=TRANSLATION,
                       scale=(1.0, 1.0), layer=None, seed=0, **solver_options):
    """Augmented Grad-CAM of square ``images`` (B, C, S, S), one map per image, the same warps for all.

    Args:
        model, layer: as :func:`helpers.gradcam.grad_cam`.
        classes: (B,) class indices, or ``None`` for each image's predicted class.
        views: L, the number of copies (copy 0 unwarped).
        rotation, translation, scale, seed: see :func:`sample_augmentations`.
        solver_options: ``lam``, ``mu``, ``resolution``, ``iterations``, ``solver``,
            ``progress``: see :func:`super_resolve`.

    Returns:
        :class:`AugmentedGradCam` with ``map`` (B, S, S) and ``solution`` (B, r, r).
    """
    check_images(model, images)
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square (the warps rotate them), got {images.shape[-2]} x {images.shape[-1]}")
    augmentations = sample_augmentations(views, rotation=rotation, translation=translation, scale=scale, seed=seed)
    if classes is None:
        with torch.no_grad():
            classes = model(images).argmax(dim=1)
    classes = torch.as_tensor(classes, device=images.device).view(-1)
    g = grad_cam_views(model, images, classes, augmentations, layer)
    full, solution, history = super_resolve(g, augmentations, images.shape[-1], **solver_options)
    return AugmentedGradCam(full, solution, g, augmentations, history, classes)


def baselines(views, augmentations, side):
    """The authors' baselines from the views g_l (B, L, h, w), each (B, side, side).

    ``"upsampled"``: the unwarped copy's map upsampled (plain Grad-CAM);
    ``"max"`` and ``"mean"``: every map upsampled and warped back onto the image,
    then the maximum, or the mean over the copies that cover each pixel.
    """
    up = F.interpolate(views.flatten(0, 1)[:, None], size=(side, side), mode="bilinear", align_corners=False)
    back = warp(up.view(*views.shape[:2], 1, side, side), augmentations, inverse=True)[:, :, 0]
    cover = warp(torch.ones(1, views.shape[1], 1, side, side, device=views.device), augmentations, inverse=True)[:, :, 0]
    return {"upsampled": up.view(*views.shape[:2], side, side)[:, 0], "max": back.amax(dim=1),
            "mean": back.sum(dim=1) / cover.sum(dim=1).clamp(min=1e-6)}
