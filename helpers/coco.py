"""Photos in COCO format: a folder of images and an instances JSON, loaded as the course loads its photos.

COCO (Lin et al., ECCV 2014) lists, for every image, its objects ("annotations"):
a box ``[x, y, w, h]`` in pixels, a mask as polygons or as run-length encoding
(RLE), a category id and ``iscrowd`` (1 for a group of objects under one mask,
which localization benchmarks leave out). ``pycocotools`` decodes the masks.

:func:`load_coco` reads any such folder (your own data too): each image resized
to ``size x size`` like :func:`helpers.data.load_photos` (no crop, antialiased
bilinear), its boxes scaled the same way and turned into ``xyxy``, its masks
decoded at the original resolution and resized with nearest-neighbour sampling.
Objects differ in number from image to image, so they come as one list entry per
image. Used for the benchmark on real photos (``../shared/data/coco-free/``).
"""

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as coco_mask

from .data import check_int, load_image


class CocoPhotos(NamedTuple):
    """Images of a COCO-format folder and their objects (one list entry per image)."""

    images: torch.Tensor  #: (N, 3, size, size) float32, normalised if a normalisation was given
    boxes: list  #: (G_i, 4) float32 xyxy pixels at ``size x size``
    categories: list  #: (G_i,) int64 COCO category ids
    masks: list  #: (G_i, size, size) bool
    crowd: list  #: (G_i,) bool, True for an ``iscrowd`` annotation
    ids: list  #: the COCO image ids
    files: list  #: the image files' names
    category_names: dict  #: {category id: name}


def _read_annotations(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no annotation file {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        raise ValueError(f"{path} is not COCO instances JSON: no list {missing[0]!r}")
    return data


def decode_mask(segmentation, height, width):
    """One annotation's mask (height, width) bool from COCO polygons, an RLE, or an uncompressed RLE."""
    if isinstance(segmentation, list):  # polygons [[x0, y0, x1, y1, ...], ...]
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE (crowd annotations)
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return torch.from_numpy(np.asarray(coco_mask.decode(rle), dtype=bool))


def load_coco(folder, annotations="instances.json", size=224, normalization=None, images_dir="images"):
    """Every image listed in ``folder/annotations`` with its objects, resized to ``size x size``.

    Args:
        folder: the dataset folder.
        annotations: the instances JSON, relative to ``folder``.
        size: side of the square the images are resized to.
        normalization: a :class:`helpers.data.Normalization`, or None for pixel values in [0, 1].
        images_dir: where the image files are, relative to ``folder``.

    Raises:
        FileNotFoundError: the JSON or an image it lists is missing (the message names the file).
        ValueError: the JSON is malformed or not in COCO's instances format.
    """
    check_int("size", size, 1)
    folder = Path(folder)
    data = _read_annotations(folder / annotations)
    by_image = {}
    for annotation in data["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    result = {key: [] for key in ("images", "boxes", "categories", "masks", "crowd", "ids", "files")}
    for entry in data["images"]:
        path = folder / images_dir / entry["file_name"]
        if not path.is_file():
            raise FileNotFoundError(f"image {path} is listed in {folder / annotations} but missing")
        width, height = entry["width"], entry["height"]
        objects = by_image.get(entry["id"], [])
        scale = torch.tensor([size / width, size / height, size / width, size / height])
        xywh = torch.tensor([a["bbox"] for a in objects], dtype=torch.float32).reshape(-1, 4)
        masks = torch.zeros(0, size, size, dtype=torch.bool)
        if objects:
            decoded = torch.stack([decode_mask(a["segmentation"], height, width) for a in objects])
            masks = F.interpolate(decoded[None].float(), size=(size, size), mode="nearest")[0].bool()
        result["images"].append(load_image(path, size, normalization))
        result["boxes"].append(torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1) * scale)
        result["categories"].append(torch.tensor([a["category_id"] for a in objects], dtype=torch.int64))
        result["masks"].append(masks)
        result["crowd"].append(torch.tensor([bool(a.get("iscrowd", 0)) for a in objects], dtype=torch.bool))
        result["ids"].append(entry["id"])
        result["files"].append(entry["file_name"])
    images = torch.cat(result.pop("images")) if data["images"] else torch.zeros(0, 3, size, size)
    return CocoPhotos(images, **result, category_names={c["id"]: c["name"] for c in data["categories"]})
