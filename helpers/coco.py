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


# cock ... great grey owl, black grouse ... black swan, white stork ... albatross
_BIRDS = tuple(range(7, 25)) + tuple(range(80, 101)) + tuple(range(127, 147))

#: COCO category name -> indices of the ImageNet-1k classes that show it (names: helpers.data.imagenet_classes()).
#: Categories without an ImageNet-1k counterpart are absent: person, fire hydrant, giraffe, suitcase, frisbee,
#: snowboard, kite (ImageNet's "kite" 21 is the bird), baseball bat, baseball glove, skateboard, surfboard, fork,
#: sandwich, carrot, donut, cake, book, scissors, toothbrush. Dining table is present: ImageNet has 532 "dining table".
IMAGENET_CLASSES = {
    "bicycle": (444, 671), "car": (407, 436, 468, 511, 609, 627, 656, 661, 734, 751, 817),
    "motorcycle": (665, 670), "airplane": (404, 895, 908), "bus": (654, 779, 874),
    "train": (466, 547, 565, 705, 820, 829), "truck": (555, 569, 675, 717, 864, 867),  # 705: a railway car
    "boat": (403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914),
    "traffic light": (920,), "stop sign": (919,), "parking meter": (704,), "bench": (703,), "bird": _BIRDS,
    "cat": (281, 282, 283, 284, 285), "dog": tuple(range(151, 269)), "horse": (339,), "sheep": (348,),
    "cow": (345, 346), "elephant": (101, 385, 386), "bear": (294, 295, 296, 297), "zebra": (340,),
    "backpack": (414,), "umbrella": (879,), "handbag": (748,), "tie": (457, 906), "skis": (795,),
    "sports ball": (429, 430, 522, 574, 722, 768, 805, 852, 890), "tennis racket": (752,),
    "bottle": (440, 720, 737, 898, 907), "wine glass": (572,), "cup": (504, 968), "knife": (499,), "spoon": (910,),
    "bowl": (659, 809), "banana": (954,), "apple": (948,), "orange": (950,), "broccoli": (937,), "hot dog": (934,),
    "pizza": (963,), "chair": (423, 559, 765, 857), "couch": (831,), "potted plant": (738,), "bed": (564,),
    "dining table": (532,), "toilet": (861,), "tv": (664, 782, 851), "laptop": (620, 681), "mouse": (673,),
    "remote": (761,), "keyboard": (508, 878), "cell phone": (487,), "microwave": (651,), "oven": (827,),
    "toaster": (859,), "sink": (896,), "refrigerator": (760,), "clock": (409, 530, 892), "vase": (883,),
    "teddy bear": (850,), "hair drier": (589,),
}


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


def load_coco(folder, annotations="instances.json", size=224, normalization=None, images_dir="images", ids=None):
    """Every image listed in ``folder/annotations`` with its objects, resized to ``size x size``.

    Args:
        folder: the dataset folder.
        annotations: the instances JSON, relative to ``folder``.
        size: side of the square the images are resized to.
        normalization: a :class:`helpers.data.Normalization`, or None for pixel values in [0, 1].
        images_dir: where the image files are, relative to ``folder``.
        ids: the COCO ids of the images to load, in the file's order (default: every image).

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
    entries = data["images"]
    if ids is not None:
        unknown = set(ids) - {entry["id"] for entry in entries}
        if unknown:
            raise ValueError(f"{folder / annotations} has no image with id {sorted(unknown)[0]}")
        entries = [entry for entry in entries if entry["id"] in set(ids)]
    for entry in entries:
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
    images = torch.cat(result.pop("images")) if entries else torch.zeros(0, 3, size, size)
    return CocoPhotos(images, **result, category_names={c["id"]: c["name"] for c in data["categories"]})


class Targets(NamedTuple):
    """What to explain in each image that has a mappable object (one row per such image)."""

    index: torch.Tensor  #: (N,) positions of these images in the :class:`CocoPhotos`
    categories: torch.Tensor  #: (N,) COCO category id of the target
    boxes: torch.Tensor  #: (N, G, 4) every non-crowd box of that category (rows padded by repeating the first)
    masks: torch.Tensor  #: (N, size, size) bool, the union of that category's masks (crowd ones too)
    candidates: list  #: (N,) tuples of the ImageNet classes of the target's category


def targets(photos, class_map=IMAGENET_CLASSES):
    """Each image's target: its largest (box area) non-crowd object whose category name is in ``class_map``.

    The ground truth is then every non-crowd box of that category in the image (MaxBoxAcc and the pointing game
    accept any of them) and the union of its masks (PxAP). Images with no mappable object are left out. Padding
    by repeating a box changes no score, which takes the best box.
    """
    rows = []
    for position, (boxes, categories, masks, crowd) in enumerate(
            zip(photos.boxes, photos.categories, photos.masks, photos.crowd)):
        names = [photos.category_names[c] for c in categories.tolist()]
        mappable = torch.tensor([n in class_map for n in names], dtype=torch.bool) & ~crowd
        if not mappable.any():
            continue
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        target = torch.where(mappable, area, -1.0).argmax()
        same = categories == categories[target]
        rows.append((position, categories[target], boxes[same & ~crowd], masks[same].any(dim=0),
                     tuple(class_map[names[target]])))
    if not rows:
        raise ValueError(f"no image has an object of a category in the class map ({len(photos.ids)} images)")
    most = max(len(row[2]) for row in rows)
    padded = torch.stack([torch.cat([row[2], row[2][:1].expand(most - len(row[2]), 4)]) for row in rows])
    return Targets(torch.tensor([row[0] for row in rows]), torch.stack([row[1] for row in rows]), padded,
                   torch.stack([row[3] for row in rows]), [row[4] for row in rows])


def explained_classes(logits, candidates):
    """For each row of ``logits`` (N, 1000), the highest-scoring ImageNet class among its ``candidates``: (N,)."""
    if logits.dim() != 2 or logits.shape[0] != len(candidates):
        raise ValueError(f"logits must be (N, classes) with one row per candidate set ({len(candidates)}), "
                         f"got {tuple(logits.shape)}")
    allowed = torch.zeros_like(logits, dtype=torch.bool)
    for row, classes in enumerate(candidates):
        if not classes or min(classes) < 0 or max(classes) >= logits.shape[1]:
            raise ValueError(f"candidate set {row} must hold class indices in [0, {logits.shape[1]}), got {classes}")
        allowed[row, list(classes)] = True
    return torch.where(allowed, logits, -torch.inf).argmax(dim=1)


class ExplanationSet(NamedTuple):
    """The images of a COCO-format folder that have a target, ready to be explained by an ImageNet classifier."""

    images: torch.Tensor  #: (N, 3, size, size), normalised for the model, on its device
    classes: torch.Tensor  #: (N,) the ImageNet class explained (:func:`explained_classes`)
    boxes: torch.Tensor  #: (N, G, 4) the target category's boxes (:class:`Targets`)
    masks: torch.Tensor  #: (N, size, size) the union of its masks
    categories: list  #: (N,) the target's COCO category name
    ids: list  #: (N,) the images' COCO ids
    files: list  #: (N,) the image files


def explanation_set(folder, model, normalization, device=None, ids=None, batch_size=32, **options):
    """:func:`load_coco`, then :func:`targets` and :func:`explained_classes` for ``model``: an :class:`ExplanationSet`.

    ``ids`` and ``options`` (``annotations``, ``size``, ``images_dir``) go to :func:`load_coco`.
    """
    photos = load_coco(folder, normalization=normalization, ids=ids, **options)
    chosen = targets(photos)
    device = next(model.parameters()).device if device is None else torch.device(device)
    images = photos.images[chosen.index].to(device)
    with torch.no_grad():
        logits = torch.cat([model(part) for part in images.split(batch_size)])
    names = [photos.category_names[c] for c in chosen.categories.tolist()]
    return ExplanationSet(images, explained_classes(logits, chosen.candidates).to(device), chosen.boxes.to(device),
                          chosen.masks.to(device), names, [photos.ids[i] for i in chosen.index.tolist()],
                          [photos.files[i] for i in chosen.index.tolist()])


def smaller_half(areas):
    """(N,) bool: True for the N // 2 smallest of ``areas`` (N,), the targets of the benchmark's smaller half."""
    areas = torch.as_tensor(areas)
    smaller = torch.zeros(len(areas), dtype=torch.bool, device=areas.device)
    smaller[areas.argsort()[:len(areas) // 2]] = True
    return smaller
