"""Experiments repeated over seeds: their recipes, the runs, and the results stored under ``data/seeds/``.

A lesson concludes from a comparison only when it holds over several seeds. Where
training one network per seed would exceed a lesson's time budget, a script runs
every seed once (``scripts/run_seeds.py``) and writes a JSON file with the recipe
and the results; the lesson loads it, shows the spread, and checks that its own
run of one seed gives that seed's stored numbers.

Experiments:

- ``canvas`` (02_global_average_pooling, section 6): lesson 02's GAP network,
  trained on centred upright shapes at 64 x 64, on canvases of 64, 96 and 128
  pixels with the same objects; as trained, with the bias set to zero, with max
  instead of average pooling at test time (no retraining), and on canvases
  without clutter. With average pooling the logit is ``mean(M_c) + b_c``: the
  object covers the same cells at every size, so its votes are divided by a
  ``Z`` four times larger at 128 px, while the background's votes (one per cell)
  and the bias do not shrink; max pooling reads the object's strongest cell
  whatever ``Z`` is.
- ``box_losses`` (01_localization_regression, sections 6 and 7): lesson 01's
  class + box network trained with each box loss (CE + lambda * L2, smooth-L1,
  1 - GIoU) and each seed; held-out accuracy, mean IoU, localization accuracy,
  and on two-object images the share of boxes whose centre is nearer the
  objects' midpoint than either object.
- ``heads`` (02_global_average_pooling, sections 3, 5 and 7): the flatten, GAP and
  Network-in-Network heads on the same backbone, trained on 3,000 centred upright
  shapes for 4 epochs and on 300 of them for 40 epochs (the same number of
  steps); train and test accuracy and loss, accuracy with the object shifted,
  with objects of each fixed radius, and on the 128-pixel canvases.
- ``flatten_shift`` (04_gradcam, section 2, and its exercise 3): lesson 02's
  flatten-head network (its heads recipe) on centred shapes moved 0, 8 and 16
  pixels: accuracy, and where the true class's Grad-CAM and per-cell
  contributions ``C`` put their peak and their positive mass; on the
  misclassified images, the same for the predicted class.
- ``rise_shapes`` (06_rise, section 4): RISE against Grad-CAM on more of the
  shapes test set than the lesson can afford, with 300 masks (three mask seeds)
  and with 2,000; the lesson's first 80 images are scored separately so that it
  can check its own run.
- ``augmented_views`` (05_augmented_gradcam, sections 5 and 6): Augmented Grad-CAM
  and the max / mean baselines against plain Grad-CAM with the authors' L = 100
  views and with the lesson's 32 for three seeds of the warps, on the lesson's
  400 shapes and on the nine photos.
"""

import copy
import json

import torch

from torch import nn

from . import augmented, checkpoints, rise
from .boxes import box_from_heatmap, iou
from .cam import upsample
from .data import DATA_DIR, SHAPE_CLASSES, load_photos, make_shapes
from .device import set_seed
from .gradcam import contributions, grad_cam
from .metrics import (accuracy, centre_baseline, localization_accuracy, localization_row, pointing_game, share_in_boxes,
                      two_object_row)
from .models import FlattenNet, GapNet, NinNet, TwoHeadNet, imagenet_model
from .train import box_regression_loss, classifier_scores, fit, fit_classifier, predict_logits

SEEDS_DIR = DATA_DIR / "seeds"

#: Lesson 02's centred, upright training set and GAP network, and section 6's canvases.
CANVAS_RECIPE = {
    "width": 8, "epochs": 4, "train_images": 3000, "train_seed": 1, "placement": "centred", "rotation": [0.0, 0.0],
    "seeds": [0, 1, 2], "canvas_images": 500, "canvas_seed": 6, "sizes": [64, 96, 128],
    "radius": [0.12 * 64, 0.22 * 64],
}
#: The test-time variants of the GAP head.
VARIANTS = ("average pooling", "bias set to zero", "max pooling", "no clutter")


def train_centred_gap(seed, recipe=CANVAS_RECIPE, device="cpu", progress=False):
    """Lesson 02's GAP network trained with weights and batches drawn from ``seed``."""
    train_set = make_shapes(recipe["train_images"], placement=recipe["placement"],
                            rotation=tuple(recipe["rotation"]), seed=recipe["train_seed"])
    set_seed(seed)
    net = GapNet(len(SHAPE_CLASSES), width=recipe["width"])
    fit_classifier(net, train_set, recipe["epochs"], device=device, seed=seed, progress=progress)
    return net.eval()


def head_variant(net, variant):
    """A copy of a :class:`helpers.models.GapNet` with its head changed at test time (one of :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    changed = copy.deepcopy(net)
    if variant == "bias set to zero":
        nn.init.zeros_(changed.classifier.bias)
    elif variant == "max pooling":
        changed.pool = nn.AdaptiveMaxPool2d(1)
    return changed


def canvas_accuracies(net, recipe=CANVAS_RECIPE):
    """``{variant: {size: accuracy}}`` of a GAP network on the recipe's canvases, for every one of :data:`VARIANTS`."""
    results = {}
    for variant in VARIANTS:
        changed = head_variant(net, "average pooling" if variant == "no clutter" else variant)
        results[variant] = {}
        for size in recipe["sizes"]:
            canvas = make_shapes(recipe["canvas_images"], size=size, placement=recipe["placement"],
                                 rotation=tuple(recipe["rotation"]), radius=tuple(recipe["radius"]),
                                 clutter=variant != "no clutter", seed=recipe["canvas_seed"])
            results[variant][size] = accuracy(predict_logits(changed, canvas.images).argmax(dim=1), canvas.labels)
    return results


#: Lesson 01's data, network and the lambda of each box loss.
BOX_LOSS_RECIPE = {
    "width": 8, "epochs": 4, "train_images": 4000, "train_seed": 1, "test_images": 1000, "test_seed": 2,
    "pairs_images": 1000, "pairs_seed": 3, "seeds": [0, 1, 2], "weights": {"l2": 10.0, "smooth_l1": 1.0, "giou": 2.0},
}


def _two_head_net(recipe=BOX_LOSS_RECIPE):
    return TwoHeadNet(classes=len(SHAPE_CLASSES), size=64, width=recipe["width"])


def box_loss_scores(model, recipe=BOX_LOSS_RECIPE):
    """Held-out scores of a trained :class:`helpers.models.TwoHeadNet`, and its midpoint share on two-object images."""
    test = make_shapes(recipe["test_images"], seed=recipe["test_seed"])
    pairs = make_shapes(recipe["pairs_images"], objects=2, seed=recipe["pairs_seed"])
    device = next(model.parameters()).device
    labels, predicted = model.predict(test.images.to(device))
    labels, predicted = labels.cpu(), predicted.cpu()
    ious = iou(predicted, test.boxes)
    _, pair_boxes = model.predict(pairs.images.to(device))
    two = two_object_row(pair_boxes.cpu(), pairs.boxes)
    return {"accuracy": accuracy(labels, test.labels), "mean IoU": ious.mean().item(),
            "localization accuracy": localization_accuracy(labels, test.labels, ious),
            **{f"two objects: {key}": value for key, value in two.items()}}


def train_box_model(kind, seed, recipe=BOX_LOSS_RECIPE, device="cpu", progress=False):
    """Lesson 01's network trained with box loss ``kind`` and its lambda, weights and batches from ``seed``."""
    train_set = make_shapes(recipe["train_images"], seed=recipe["train_seed"])
    set_seed(seed)
    model = _two_head_net(recipe)
    fit(model, train_set, box_regression_loss(kind, recipe["weights"][kind]), recipe["epochs"], device=device,
        seed=seed, progress=progress)
    return model.eval()


#: Lesson 02's heads, trained as in its section 3 and with a tenth of the images for ten times the epochs.
HEADS_RECIPE = {
    "width": 8, "hidden": 128, "train_images": 3000, "epochs": 4, "few_images": 300, "few_epochs": 40,
    "train_seed": 1, "test_images": 1000, "test_seed": 2, "seeds": [0, 1, 2], "shift": 16, "shift_seed": 3,
    "radii": [4, 6, 8, 10, 12, 14, 16, 18], "radius_seed": 7, "probe_images": 500, "canvas": 128, "canvas_seed": 6,
}
#: The heads of lesson 02, by the names its tables use.
HEADS = ("flatten + FC", "GAP + linear", "NiN: class maps + GAP")


def centred_shapes(n, seed, **options):
    """Lesson 02's data: ``n`` upright shapes near the centre (other ``make_shapes`` options passed on)."""
    return make_shapes(n, placement="centred", rotation=(0.0, 0.0), seed=seed, **options)


def build_head(kind, seed, recipe=HEADS_RECIPE):
    """A new network with head ``kind`` (one of :data:`HEADS`); one seed gives every head the same initial backbone."""
    if kind not in HEADS:
        raise ValueError(f"kind must be one of {HEADS}, got {kind!r}")
    set_seed(seed)
    classes = len(SHAPE_CLASSES)
    if kind == HEADS[0]:
        return FlattenNet(classes, size=64, width=recipe["width"], hidden=recipe["hidden"])
    return (GapNet if kind == HEADS[1] else NinNet)(classes, width=recipe["width"])


def head_scores(net, train_set, recipe=HEADS_RECIPE):
    """A trained head's train and test scores, accuracy at the recipe's shift, by object radius, and on its canvas."""
    probe = recipe["probe_images"]
    radius = {r: classifier_scores(net, centred_shapes(probe, recipe["radius_seed"], radius=(r, r)))["accuracy"]
              for r in recipe["radii"]}
    canvas = None
    if not isinstance(net, FlattenNet):  # its head takes 64 x 64 images only
        canvas = classifier_scores(net, centred_shapes(probe, recipe["canvas_seed"], size=recipe["canvas"],
                                                       radius=(0.12 * 64, 0.22 * 64)))["accuracy"]
    return {"train": classifier_scores(net, train_set),
            "test": classifier_scores(net, centred_shapes(recipe["test_images"], recipe["test_seed"])),
            "shift": classifier_scores(net, centred_shapes(probe, recipe["shift_seed"], shift=recipe["shift"]))["accuracy"],
            "radius": radius, "canvas": canvas}


def head_runs(seed, recipe=HEADS_RECIPE, device="cpu", progress=False):
    """Every head trained with ``seed`` in both settings: ``{setting: {head: head_scores}}``."""
    results = {}
    for images, epochs in ((recipe["train_images"], recipe["epochs"]), (recipe["few_images"], recipe["few_epochs"])):
        train_set = centred_shapes(images, recipe["train_seed"])
        setting = f"{images} images, {epochs} epochs"
        results[setting] = {}
        for kind in HEADS:
            net = build_head(kind, seed, recipe)
            fit_classifier(net, train_set, epochs, device=device, seed=seed, progress=progress)
            results[setting][kind] = head_scores(net.eval(), train_set, recipe)
    return results


#: Lesson 04's section 2: lesson 02's flatten-head network (its heads recipe) on objects shifted off centre.
FLATTEN_SHIFT_RECIPE = {"width": 8, "hidden": 128, "train_images": 3000, "epochs": 4, "train_seed": 1,
                        "seeds": [0, 1, 2], "shifts": [0, 8, 16], "shift_images": 500, "shift_seed": 3,
                        "layer": "backbone"}


def shifted_sets(recipe=FLATTEN_SHIFT_RECIPE):
    """``{shift: Shapes}``: the recipe's centred, upright test images moved by each shift in pixels."""
    return {s: centred_shapes(recipe["shift_images"], recipe["shift_seed"], shift=s) for s in recipe["shifts"]}


def shift_evidence(net, shapes, layer="backbone"):
    """Where a classifier's evidence lies on one set of shapes: a row of lesson 04's section 2, and the maps behind it.

    Returns ``(row, maps)``; ``maps`` holds the true class's Grad-CAM and per-cell
    contributions :func:`helpers.gradcam.contributions` (``"C"``), upsampled to the
    images. The row: accuracy; the true class's Grad-CAM pointing game and share of
    positive mass in the box; the same two for ``C``; and, on the misclassified
    images, the Grad-CAM and ``C`` of the *predicted* class (lesson 04's exercise 3).
    """
    device = next(net.parameters()).device
    images, labels = shapes.images.to(device), shapes.labels.to(device)
    predicted = predict_logits(net, shapes.images).argmax(dim=1)
    wrong = predicted != shapes.labels
    side = images.shape[-1]
    maps = {"Grad-CAM": upsample(grad_cam(net, images, labels, layer).maps, side)[:, 0].cpu(),
            "C": upsample(contributions(net, images, labels, layer), side)[:, 0].cpu()}
    row = {"accuracy": accuracy(predicted, shapes.labels), "misclassified": int(wrong.sum())}
    for name, found in maps.items():
        row[f"{name}: pointing game"] = pointing_game(found, shapes.boxes)
        row[f"{name}: share in the box"] = share_in_boxes(found, shapes.boxes).mean().item()
    if wrong.any():
        chosen = predicted[wrong].to(device)
        for name, raw in (("Grad-CAM", grad_cam(net, images[wrong], chosen, layer).maps),
                          ("C", contributions(net, images[wrong], chosen, layer))):
            found = upsample(raw, side)[:, 0].cpu()
            row[f"predicted class's {name}: pointing game"] = pointing_game(found, shapes.boxes[wrong])
            row[f"predicted class's {name}: share in the box"] = share_in_boxes(found, shapes.boxes[wrong]).mean().item()
    return row, maps


def train_flatten_net(seed, recipe=FLATTEN_SHIFT_RECIPE, device="cpu"):
    """Lesson 02's flatten-head network (its heads recipe) trained with ``seed``, in eval mode."""
    net = build_head(HEADS[0], seed, recipe)
    fit_classifier(net, centred_shapes(recipe["train_images"], recipe["train_seed"]), recipe["epochs"], device=device,
                   seed=seed, progress=False)
    return net.eval()


def flatten_shift_rows(seed, recipe=FLATTEN_SHIFT_RECIPE, device="cpu"):
    """``{shift: shift_evidence row}`` of lesson 02's flatten-head network trained with ``seed``."""
    net = train_flatten_net(seed, recipe, device)
    return {s: shift_evidence(net, shapes, recipe["layer"])[0] for s, shapes in shifted_sets(recipe).items()}


#: Seed-0 networks of these experiments that later lessons load instead of training them again, stored under
#: ``data/checkpoints/`` by ``scripts/make_checkpoints.py``: lesson 01's three box-loss networks (lesson 07
#: explains the L2 one) and lesson 02's flatten-head network (lesson 04, section 2).
STORED_NETWORKS = ("box_l2", "box_smooth_l1", "box_giou", "flatten_head")


def stored_scores(name, model):
    """What stored network ``name`` scores: its ``box_losses`` row, or its accuracy at each ``flatten_shift`` shift."""
    if name == "flatten_head":
        return {str(s): classifier_scores(model, shapes)["accuracy"] for s, shapes in shifted_sets().items()}
    return box_loss_scores(model)


def train_stored(name, device="cpu"):
    """Train stored network ``name`` (one of :data:`STORED_NETWORKS`) from seed 0: ``(model, record)``.

    The record names the experiment the network is seed 0 of, its recipe, and its
    :func:`stored_scores`, which equal that seed's stored results when trained on
    the same number of CPU threads.
    """
    if name not in STORED_NETWORKS:
        raise ValueError(f"name must be one of {STORED_NETWORKS}, got {name!r}")
    if name == "flatten_head":
        model, experiment, recipe = train_flatten_net(0, device=device), "flatten_shift", FLATTEN_SHIFT_RECIPE
    else:
        kind = name.removeprefix("box_")
        model, experiment, recipe = train_box_model(kind, 0, device=device), "box_losses", BOX_LOSS_RECIPE
    return model, {"experiment": experiment, "seed": 0, "recipe": recipe, "scores": stored_scores(name, model),
                   "threads": torch.get_num_threads()}


def stored_box_model(kind, device=None):
    """Lesson 01's network trained with box loss ``kind`` (seed 0 of ``box_losses``), loaded from its checkpoint."""
    return checkpoints.load(f"box_{kind}", _two_head_net(), device)


def load_stored(name, device=None):
    """Stored network ``name`` (one of :data:`STORED_NETWORKS`), loaded from its checkpoint."""
    if name not in STORED_NETWORKS:
        raise ValueError(f"name must be one of {STORED_NETWORKS}, got {name!r}")
    return stored_flatten_net(device) if name == "flatten_head" else stored_box_model(name.removeprefix("box_"), device)


def stored_flatten_net(device=None):
    """Lesson 02's flatten-head network (seed 0 of ``flatten_shift``), loaded from its checkpoint."""
    recipe = FLATTEN_SHIFT_RECIPE
    return checkpoints.load("flatten_head", FlattenNet(len(SHAPE_CLASSES), size=64, width=recipe["width"],
                                                       hidden=recipe["hidden"]), device)


#: Lesson 06's comparison on the shapes: the checkpoint GAP network, its test set, the true class.
#: (batch_size: masks per forward pass, each seen by all the images: 2,000 small images a pass.)
RISE_SHAPES_RECIPE = {"images": 200, "lesson_images": 80, "runs": [[300, 0], [300, 1], [300, 2], [2000, 0]],
                      "cells": 7, "keep": 0.5, "batch_size": 10, "layer": "backbone.17"}


def rise_shapes_rows(recipe=RISE_SHAPES_RECIPE, device="cpu", progress=False):
    """``{method: localization_row}`` on the recipe's images (and ``"... first <lesson_images>"`` rows for RISE's first run)."""
    model = checkpoints.load_shapes_gap(device)
    test_set = checkpoints.shapes_gap_test_set()
    count, first = recipe["images"], recipe["lesson_images"]
    images, labels = test_set.images[:count].to(device), test_set.labels[:count].to(device)
    boxes, masks = test_set.boxes[:count], test_set.masks[:count]
    maps = {}
    for n, seed in recipe["runs"]:
        maps[f"RISE, N = {n}, mask seed {seed}"] = rise.rise(
            model, images, labels, masks=n, cells=recipe["cells"], keep=recipe["keep"], seed=seed,
            batch_size=recipe["batch_size"], progress=progress).maps[:, 0].cpu()
    maps["Grad-CAM, last conv"] = upsample(grad_cam(model, images, labels, recipe["layer"]).maps, 64)[:, 0].cpu()
    maps["centre baseline"] = centre_baseline(count, 64)
    rows = {name: localization_row(found, boxes, masks, progress=False)[0] for name, found in maps.items()}
    lesson_run = f"RISE, N = {recipe['runs'][0][0]}, mask seed {recipe['runs'][0][1]}"
    rows[f"{lesson_run}, first {first}"] = localization_row(maps[lesson_run][:first], boxes[:first], masks[:first],
                                                            progress=False)[0]
    return rows


#: Lesson 05's two measurements (sections 5 and 6) with each number of views L and seed of the warps.
AUGMENTED_RECIPE = {"runs": [[32, 0], [32, 1], [32, 2], [100, 0]], "shapes": 400, "shapes_layer": "backbone.17",
                    "shapes_resolution": 32, "photos_layer": "conv_head", "taus": [0.15, 0.5]}


def _augmented_maps(views, warps, side, resolution=None):
    maps = augmented.baselines(views, warps, side)
    maps["augmented"], solution, _ = augmented.super_resolve(views, warps, side, resolution=resolution, progress=False)
    return maps, augmented.unexplained(views, solution, warps)


def augmented_rows(views, seed, recipe=AUGMENTED_RECIPE, device="cpu"):
    """Lesson 05's tables for ``views`` warps drawn with ``seed``: ``{"shapes": {method: row}, "photos": ...}``.

    Shapes: :func:`helpers.metrics.localization_row` of each map on the recipe's first
    test images (true class). Photos: mean IoU of the box at each of the recipe's
    thresholds (predicted class). Both with the unexplained share of the solved map.
    """
    warps = augmented.sample_augmentations(views, seed=seed)
    model, test_set = checkpoints.load_shapes_gap(device), checkpoints.shapes_gap_test_set()
    count = recipe["shapes"]
    chunks = [slice(start, min(start + 100, count)) for start in range(0, count, 100)]
    shape_views = torch.cat([augmented.grad_cam_views(model, test_set.images[part].to(device),
                                                      test_set.labels[part].to(device), warps, recipe["shapes_layer"])
                             for part in chunks])
    maps, share = _augmented_maps(shape_views, warps, 64, recipe["shapes_resolution"])
    shapes = {method: localization_row(found.cpu(), test_set.boxes[:count], test_set.masks[:count], progress=False)[0]
              for method, found in maps.items()}
    pretrained = imagenet_model(device)
    photos = load_photos(pretrained.normalization)
    images = photos.images.to(device)
    with torch.no_grad():
        classes = pretrained.model(images).argmax(dim=1)
    photo_views = augmented.grad_cam_views(pretrained.model, images, classes, warps, recipe["photos_layer"])
    maps, photo_share = _augmented_maps(photo_views, warps, images.shape[-1])
    photo_rows = {method: {f"mean IoU, tau {tau:g}": iou(box_from_heatmap(found.cpu(), tau), photos.boxes).mean().item()
                           for tau in recipe["taus"]} for method, found in maps.items()}
    return {"shapes": shapes, "photos": photo_rows, "unexplained": {"shapes": share, "photos": photo_share}}


def spread_row(label, values, seeds):
    """One row of a table over seeds: ``{**label, "seed s": value..., "min", "max"}`` (``label`` a dict of columns)."""
    values = list(values)
    if len(values) != len(seeds) or not values:
        raise ValueError(f"one value per seed is needed: {len(values)} values for seeds {list(seeds)}")
    return {**label, **{f"seed {s}": v for s, v in zip(seeds, values)}, "min": min(values), "max": max(values)}


def over_seeds(results, seeds, *keys):
    """``results[str(seed)][key_1][key_2]...`` for every seed: one stored measurement's values, in seed order.

    Keys are looked up as strings, as JSON stores them (``over_seeds(stored, [0, 1], "images", 300)``).
    """
    values = []
    for seed in seeds:
        value = results[str(seed)]
        for key in keys:
            value = value[str(key)]
        values.append(value)
    return values


def save(name, recipe, results):
    """Write ``data/seeds/<name>.json``: the recipe and ``{seed: results}``."""
    SEEDS_DIR.mkdir(parents=True, exist_ok=True)
    path = SEEDS_DIR / f"{name}.json"
    path.write_text(json.dumps({"recipe": recipe, "results": results}, indent=1) + "\n")
    return path


def load(name):
    """The stored ``(recipe, {seed: results})`` of an experiment; JSON keys come back as strings."""
    path = SEEDS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `.venv/bin/python scripts/run_seeds.py {name}`")
    stored = json.loads(path.read_text())
    return stored["recipe"], stored["results"]
