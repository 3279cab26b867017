"""The course's data: procedural "cluttered shapes", the shipped photos, ImageNet class names.

Cluttered shapes are made from a seed, in memory, in seconds: each image holds one
object (or two, of different classes) whose class is given by its *shape* alone.
Colour, size, position and rotation are random, and the background carries
distractors (lines and dots) in the same colours as the objects, so that a network
has to find the shape to name the class. Every object comes with its pixel mask
and its tight box, so heat-maps can be scored against ground truth.

Boxes are ``xyxy`` in pixels, measured on pixel edges: pixel ``(row i, col j)``
covers ``[j, j + 1) x [i, i + 1)``, so a box around columns 3..7 is ``x1 = 3,
x2 = 8`` and its width is the number of pixels it spans.

Explained in 00_start_here.
"""

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

#: The shape classes, in label order.
SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")

#: Folder of the shipped photos and their annotation file.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PHOTOS_JSON = DATA_DIR / "photos.json"

PLACEMENTS = ("anywhere", "centred")
_MIN_SIZE = 24  # smaller canvases make the shapes a handful of pixels wide
_CHUNK = 1024  # images rendered at once: bounds memory for any n
_LINES, _DOTS = 4, 6  # distractors per image (each one drawn or not at random)


class Shapes(NamedTuple):
    """A batch of cluttered-shapes images with their ground truth.

    With ``objects=2`` the per-object fields gain an axis of length 2 after the batch axis.
    """

    images: torch.Tensor  #: (N, 3, H, W) float32 in [0, 1]
    labels: torch.Tensor  #: (N,) int64 indices into SHAPE_CLASSES, or (N, 2)
    boxes: torch.Tensor  #: (N, 4) float32 xyxy pixels, or (N, 2, 4)
    masks: torch.Tensor  #: (N, H, W) bool, or (N, 2, H, W)


class Normalization(NamedTuple):
    """Per-channel input normalisation ``(x - mean) / std`` of a model."""

    mean: tuple
    std: tuple

    def _stats(self, images):
        shape = (1, -1, 1, 1)
        mean = torch.as_tensor(self.mean, dtype=images.dtype, device=images.device).view(shape)
        std = torch.as_tensor(self.std, dtype=images.dtype, device=images.device).view(shape)
        return mean, std

    def apply(self, images):
        """Map images in [0, 1] of shape (B, 3, H, W) to the model's input space."""
        mean, std = self._stats(images)
        return (images - mean) / std

    def undo(self, images):
        """Map model inputs back to images in [0, 1] (for display)."""
        mean, std = self._stats(images)
        return images * std + mean


def class_index(name, classes=SHAPE_CLASSES):
    """Return the index of a class name (e.g. ``class_index("star") == 4``).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``name`` is not one of ``classes``; the message lists them.
    """
    if not isinstance(name, str):
        raise TypeError(f"class name must be a str, got {type(name).__name__}")
    try:
        return list(classes).index(name)
    except ValueError:
        shown = ", ".join(classes) if len(classes) <= 20 else f"{len(classes)} names"
        raise ValueError(f"unknown class name {name!r}; expected one of: {shown}") from None


# ---------------------------------------------------------------- shapes in unit coordinates
# Each function takes rotated, radius-normalised coordinates (u, v) and says which
# points are inside. Every shape fits in the unit disc, so an object of radius r
# centred at least r pixels from each edge lies wholly in the canvas.


def _regular_polygon(u, v, sides):
    rho, phi = torch.hypot(u, v), torch.atan2(v, u)
    sector = 2 * math.pi / sides
    return rho * torch.cos(torch.remainder(phi, sector) - sector / 2) <= math.cos(math.pi / sides)


def _star(u, v, points=5, inner=0.45):
    rho, phi = torch.hypot(u, v), torch.atan2(v, u)
    sector = 2 * math.pi / points
    a = torch.remainder(phi, sector)
    t = torch.minimum(a, sector - a)  # angle to the nearest tip, in [0, pi / points]
    px, py = rho * torch.cos(t), rho * torch.sin(t)
    vx, vy = inner * math.cos(sector / 2), inner * math.sin(sector / 2)
    # inside when on the origin's side of the edge from the tip (1, 0) to the inner vertex
    return (vx - 1) * py - vy * (px - 1) >= 0


_INSIDE = {
    "circle": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) <= 0.72,
    "triangle": lambda u, v: _regular_polygon(u, v, 3),
    "cross": lambda u, v: ((u.abs() <= 0.3) & (v.abs() <= 0.95)) | ((v.abs() <= 0.3) & (u.abs() <= 0.95)),
    "star": _star,
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.55**2),
}


# ---------------------------------------------------------------- random parameters


def _uniform(generator, shape, low, high):
    return low + (high - low) * torch.rand(shape, generator=generator)


def _colours(generator, n):
    """Random RGB colours, bright enough to stand out on the dark background."""
    rgb = torch.rand((n, 3), generator=generator) + 1e-3
    peak = _uniform(generator, (n, 1), 0.6, 1.0)
    return rgb / rgb.amax(dim=1, keepdim=True) * peak


def _object_params(generator, n, size, placement, objects, shift, rotation, radius):
    """Labels, radii, angles, centres and colours of the objects, shape (n, objects, ...)."""
    first = torch.randint(len(SHAPE_CLASSES), (n, 1), generator=generator)
    offset = torch.randint(1, len(SHAPE_CLASSES), (n, objects - 1), generator=generator)
    labels = torch.cat([first, (first + offset) % len(SHAPE_CLASSES)], dim=1)
    radii = _uniform(generator, (n, objects), *radius)
    angles = _uniform(generator, (n, objects), math.radians(rotation[0]), math.radians(rotation[1]))
    if shift is not None:  # exactly `shift` pixels from the centre, in a random direction
        direction = _uniform(generator, (n, 1), 0.0, 2 * math.pi)
        centres = size / 2 + shift * torch.stack([torch.cos(direction), torch.sin(direction)], dim=-1)
    elif placement == "centred":
        centres = size / 2 + _uniform(generator, (n, 1, 2), -0.04 * size, 0.04 * size)
    else:
        centres = _centres_apart(generator, radii, size)
    colours = _colours(generator, n * objects).view(n, objects, 3)
    return labels, radii, angles, centres, colours


def _centres_apart(generator, radii, size, tries=100):
    """Centres uniform in the canvas with every object inside it and apart from the others."""
    n, objects = radii.shape
    r = radii.unsqueeze(-1)
    centres = r + torch.rand((n, objects, 2), generator=generator) * (size - 2 * r)
    if objects == 1:
        return centres
    for _ in range(tries):
        gap = (centres[:, 0] - centres[:, 1]).norm(dim=-1) - radii.sum(dim=1)
        redo = gap < 2.0
        if not redo.any():
            return centres
        fresh = r + torch.rand((n, objects, 2), generator=generator) * (size - 2 * r)
        centres = torch.where(redo.view(n, 1, 1), fresh, centres)
    raise RuntimeError(f"could not place {objects} objects apart on a {size}x{size} canvas")


def _clutter_params(generator, n, size):
    lines = _uniform(generator, (n, _LINES, 4), 0.0, size)  # x0, y0, x1, y1
    widths = _uniform(generator, (n, _LINES), 0.5, 0.8)  # half-widths in pixels
    dots = _uniform(generator, (n, _DOTS, 2), 0.0, size)
    dot_radii = _uniform(generator, (n, _DOTS), 0.8, 1.8)
    shown = torch.rand((n, _LINES + _DOTS), generator=generator) < 0.7
    colours = _colours(generator, n * (_LINES + _DOTS)).view(n, _LINES + _DOTS, 3)
    return lines, widths, dots, dot_radii, shown, colours


# ---------------------------------------------------------------- rendering


def _object_mask(labels, radii, angles, centres, xs, ys):
    """Pixels inside each object, (n, H, W) bool, for one object per image."""
    dx = xs.view(1, 1, -1) - centres[:, 0].view(-1, 1, 1)
    dy = ys.view(1, -1, 1) - centres[:, 1].view(-1, 1, 1)
    cos, sin = torch.cos(angles).view(-1, 1, 1), torch.sin(angles).view(-1, 1, 1)
    u = (cos * dx + sin * dy) / radii.view(-1, 1, 1)
    v = (cos * dy - sin * dx) / radii.view(-1, 1, 1)
    inside = torch.zeros(u.shape, dtype=torch.bool)
    for index, name in enumerate(SHAPE_CLASSES):
        chosen = labels == index
        if chosen.any():
            inside[chosen] = _INSIDE[name](u[chosen], v[chosen])
    return inside


def _segment_mask(segments, half_widths, xs, ys):
    """Pixels within ``half_widths`` of each segment (square caps), (n, H, W) bool.

    Both tests are sums of a row term and a column term, so each costs one
    full-size operation.
    """
    x0, y0, x1, y1 = (segments[:, i].view(-1, 1, 1) for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    length = torch.hypot(dx, dy).clamp_min(1e-6)
    px, py = xs.view(1, 1, -1) - x0, ys.view(1, -1, 1) - y0
    across = (px * dy - py * dx).abs() <= half_widths.view(-1, 1, 1) * length  # distance to the line
    along = px * dx + py * dy  # position along it, times the length
    return across & (along >= 0) & (along <= length * length)


def _disc_mask(centres, radii, xs, ys):
    """Pixels within ``radii`` of ``centres``, (n, H, W) bool."""
    dx2 = (xs.view(1, 1, -1) - centres[:, 0].view(-1, 1, 1)) ** 2
    dy2 = (ys.view(1, -1, 1) - centres[:, 1].view(-1, 1, 1)) ** 2
    return dx2 + dy2 <= radii.view(-1, 1, 1) ** 2


def _render(size, background, objects, clutter):
    """Draw one chunk: background, then distractors, then the objects on top.

    Every layer writes its number into one index map (later layers cover
    earlier ones) and the colours are looked up once at the end.
    """
    n = background.shape[0]
    xs = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    ys = xs
    layers = torch.zeros((n, size, size), dtype=torch.uint8)  # 0 = background
    colours = [torch.zeros((n, 3))]
    if clutter is not None:
        lines, widths, dots, dot_radii, shown, clutter_colours = clutter
        for k in range(_LINES + _DOTS):
            if k < _LINES:
                where = _segment_mask(lines[:, k], widths[:, k], xs, ys)
            else:
                where = _disc_mask(dots[:, k - _LINES], dot_radii[:, k - _LINES], xs, ys)
            layers.masked_fill_(where & shown[:, k].view(-1, 1, 1), len(colours))
            colours.append(clutter_colours[:, k])
    labels, radii, angles, centres, object_colours = objects
    masks = torch.stack(
        [_object_mask(labels[:, j], radii[:, j], angles[:, j], centres[:, j], xs, ys) for j in range(labels.shape[1])],
        dim=1,
    )
    for j in range(labels.shape[1]):
        layers.masked_fill_(masks[:, j], len(colours))
        colours.append(object_colours[:, j])
    table = torch.stack(colours, dim=2)  # (n, 3, layers)
    index = layers.view(n, 1, -1).long().expand(n, 3, -1)
    painted = table.gather(2, index).view(n, 3, size, size)
    # bilinear upsampling of the coarse background, as two small matrix products
    ramp = F.interpolate(torch.eye(background.shape[-1]).unsqueeze(0), size=size, mode="linear", align_corners=False)[0]
    images = ramp.T @ background @ ramp
    images = torch.where(layers.unsqueeze(1) > 0, painted, images)
    return images.clamp(0, 1), masks


def boxes_from_masks(masks):
    """Tight ``xyxy`` pixel boxes around boolean masks of shape (..., H, W).

    An empty mask gets the box ``(0, 0, 0, 0)``.
    """
    if masks.dtype != torch.bool:
        raise TypeError(f"masks must be bool, got {masks.dtype}")
    if masks.dim() < 2:
        raise ValueError(f"masks must have shape (..., H, W), got {tuple(masks.shape)}")
    rows, cols = masks.any(dim=-1), masks.any(dim=-2)

    def first_and_end(hits):
        length = hits.shape[-1]
        first = hits.int().argmax(dim=-1)
        end = length - hits.flip(-1).int().argmax(dim=-1)
        empty = ~hits.any(dim=-1)
        return first.masked_fill(empty, 0), end.masked_fill(empty, 0)

    x1, x2 = first_and_end(cols)
    y1, y2 = first_and_end(rows)
    return torch.stack([x1, y1, x2, y2], dim=-1).float()


def check_int(name, value, low):
    """Raise unless ``value`` is an int (not a bool) >= ``low``: TypeError for the type, ValueError for the value."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def make_shapes(n, *, size=64, placement="anywhere", objects=1, clutter=True, shift=None, rotation=(0.0, 360.0),
                radius=None, seed=0):
    """Generate ``n`` cluttered-shapes images with class, box and mask.

    The same arguments give bit-identical tensors: every random number is drawn
    from one ``torch.Generator`` seeded with ``seed``, before rendering, so the
    chunked rendering does not change the result.

    Args:
        n: number of images (>= 1).
        size: canvas side in pixels (>= 24); the images are ``size x size``.
        placement: ``"anywhere"`` (the whole object inside the canvas, position
            uniform) or ``"centred"`` (the object's centre within 4 % of the
            canvas centre).
        objects: 1, or 2 objects of different classes that do not overlap
            (only with ``placement="anywhere"``).
        clutter: draw distractor lines and dots in the background.
        shift: with ``placement="centred"``, put each object's centre exactly
            ``shift`` pixels from the canvas centre, in a random direction
            (0 <= shift <= size / 2 - the largest radius, so the object stays
            inside: 0.28 * size with the default radius).
        rotation: ``(low, high)`` range of the objects' rotation in degrees,
            drawn uniformly; ``(0, 0)`` draws every shape upright.
        radius: ``(low, high)`` range of the objects' radius in pixels, drawn
            uniformly; by default ``(0.12, 0.22) * size`` for one object and
            ``(0.10, 0.18) * size`` for two, so objects grow with the canvas.
            Fix it to put objects of one size on canvases of several sizes.
        seed: int >= 0.

    Returns:
        :class:`Shapes` on the CPU.

    Raises:
        TypeError: a count, the size or the seed is not an int, or clutter is not a bool.
        ValueError: a value is out of range, or the placement is unknown.
    """
    check_int("n", n, 1)
    check_int("size", size, _MIN_SIZE)
    check_int("seed", seed, 0)
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    if objects not in (1, 2) or isinstance(objects, bool):
        raise ValueError(f"objects must be 1 or 2, got {objects!r}")
    if objects == 2 and placement == "centred":
        raise ValueError("objects=2 needs placement='anywhere': two objects cannot both sit at the centre")
    if not isinstance(clutter, bool):
        raise TypeError(f"clutter must be a bool, got {type(clutter).__name__}")
    if (not isinstance(rotation, (tuple, list)) or len(rotation) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rotation)
            or rotation[0] > rotation[1]):
        raise ValueError(f"rotation must be a (low, high) pair of degrees with low <= high, got {rotation!r}")

    if radius is None:
        low, high = (0.12, 0.22) if objects == 1 else (0.10, 0.18)
        radius = (low * size, high * size)
    elif (not isinstance(radius, (tuple, list)) or len(radius) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in radius)
            or not 2 <= radius[0] <= radius[1] <= 0.3 * size):
        raise ValueError(f"radius must be a (low, high) pair of pixels with 2 <= low <= high <= {0.3 * size:g} "
                         f"for size {size}, got {radius!r}")
    if shift is not None:
        if placement != "centred":
            raise ValueError("shift is measured from the centre: use it with placement='centred'")
        farthest = size / 2 - radius[1]  # the largest object still fits inside the canvas
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 <= shift <= farthest:
            raise ValueError(f"shift must be a number in [0, {farthest:g}] for size {size} and radius up to "
                             f"{radius[1]:g}, got {shift!r}")

    generator = torch.Generator().manual_seed(int(seed))
    params = _object_params(generator, n, size, placement, objects, shift, rotation, radius)
    background = _uniform(generator, (n, 3, 1, 1), 0.0, 0.3) + _uniform(generator, (n, 3, 4, 4), -0.08, 0.08)
    clutter_params = _clutter_params(generator, n, size) if clutter else None

    images = torch.empty((n, 3, size, size))
    masks = torch.empty((n, objects, size, size), dtype=torch.bool)
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        chunk_clutter = None if clutter_params is None else tuple(p[part] for p in clutter_params)
        images[part], masks[part] = _render(size, background[part], tuple(p[part] for p in params), chunk_clutter)
    labels = params[0]
    boxes = boxes_from_masks(masks)
    if objects == 1:
        labels, boxes, masks = labels[:, 0], boxes[:, 0], masks[:, 0]
    return Shapes(images, labels, boxes, masks)


class ShapesDataset(torch.utils.data.Dataset):
    """The cluttered shapes as a map-style ``Dataset`` (items are :class:`Shapes` of one image).

    Takes the arguments of :func:`make_shapes`; all images are generated once, in
    memory, so a ``DataLoader`` only indexes tensors. ``dataset.data`` holds the
    whole batch for full-batch work.
    """

    def __init__(self, n, **options):
        self.data = make_shapes(n, **options)

    def __len__(self):
        return self.data.images.shape[0]

    def __getitem__(self, index):
        return Shapes(*(field[index] for field in self.data))


# ---------------------------------------------------------------- photos and ImageNet


class Photos(NamedTuple):
    """The shipped photos, resized and normalised for a model."""

    images: torch.Tensor  #: (N, 3, size, size) float32, normalised
    boxes: torch.Tensor  #: (N, 4) float32 xyxy pixels at ``size x size``
    classes: torch.Tensor  #: (N,) int64 ImageNet index, -1 where no class fits
    names: list  #: the photos' names
    info: list  #: the entries of data/photos.json


def imagenet_classes():
    """The 1,000 ImageNet class names in index order (from torchvision's metadata, no download)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def load_image(path, size, normalization=None):
    """Read an image file as a (1, 3, size, size) float tensor.

    Grayscale is repeated over three channels; transparency (RGBA, LA, palette)
    is composited over white. The image is resized to ``size x size`` without
    cropping (the aspect ratio is not kept), with antialiased bilinear
    interpolation, then normalised if ``normalization`` is given.
    """
    check_int("size", size, 1)
    with Image.open(path) as image:
        image = image.convert("RGBA")
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    rgb, alpha = pixels[..., :3], pixels[..., 3:]
    rgb = rgb * alpha + (1.0 - alpha)  # over white
    x = rgb.permute(2, 0, 1).unsqueeze(0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x if normalization is None else normalization.apply(x)


def load_photos(normalization=None, size=224):
    """Load every photo listed in ``data/photos.json`` with its hand-checked box.

    Boxes are scaled from the original pixel grid to ``size x size`` like the image.

    Args:
        normalization: a :class:`Normalization` (e.g. the ImageNet model's), or
            ``None`` to keep pixel values in [0, 1].
        size: side of the square the photos are resized to.
    """
    info = json.loads(PHOTOS_JSON.read_text())
    images, boxes = [], []
    for entry in info:
        images.append(load_image(DATA_DIR / entry["file"], size, normalization))
        width, height = entry["width"], entry["height"]
        scale = torch.tensor([size / width, size / height, size / width, size / height])
        boxes.append(torch.tensor(entry["box"], dtype=torch.float32) * scale)
    classes = torch.tensor([-1 if e["imagenet_class"] is None else e["imagenet_class"] for e in info])
    return Photos(torch.cat(images), torch.stack(boxes), classes, [e["name"] for e in info], info)
