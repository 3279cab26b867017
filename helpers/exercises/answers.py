"""The experiments behind the worked answers that train networks, too slow to rerun in ``make test``.

The worked answers to the open exercises (``notebooks/solutions/``) compute what
they can live; where an answer needs many trained networks, ``scripts/run_seeds.py``
runs it once per seed and stores the recipe and the scores under ``data/seeds/``
(:func:`helpers.seeds.save`), and the solution loads them. Each experiment also
reruns one setting of a stored lesson experiment, so the solution can check that
the two runs agree.

- ``box_exercises`` (lesson 01, exercises 1 to 5): lesson 01's class + box
  network trained for each setting of :data:`BOX_EXERCISE_RECIPE` and each seed:
  the L2 loss with lambda 1, 10 and 100; L2 on the corners ``xyxy`` instead of
  ``cxcywh``; GIoU with lambda 0.5 and 2; and L2 or GIoU trained on two-object
  images with the *first* object's class and box as the target (the first of the
  two is drawn at random, so nothing in an image says which one is meant).
- ``head_exercises`` (lesson 02, exercises 1 to 6): lesson 02's flatten and GAP
  heads trained on 100 to 3,000 centred shapes for about the same number of
  steps, and on 300 for the same epochs; both heads, and flatten with a lower
  learning rate, trained on shapes anywhere at any angle; a GAP network trained
  with max pooling; the lesson's two networks shifted by 0 to 3 pixels and turned
  by 60 and 72 degrees, class by class; and a NiN network's class maps against
  the GAP network's CAM.
- ``augmented_exercises`` (lesson 05, exercises 1 to 5): section 6 again (lesson
  02's GAP network, its first 400 test shapes, L = 32 views at the last
  convolution) for each seed of the warps, with the solver's grid at 64 instead
  of 32, warps that only shift, views divided by copy 0's maximum instead of their
  own, every cell counted as inside, and 30 or 300 solver iterations instead of 100.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import augmented, checkpoints
from ..boxes import convert, iou
from ..cam import cam, upsample
from ..data import SHAPE_CLASSES, Shapes, make_shapes
from ..device import set_seed
from ..metrics import accuracy, localization_row, pointing_game
from ..models import NinNet, TwoHeadNet
from ..seeds import BOX_LOSS_RECIPE, HEADS, HEADS_RECIPE, box_loss_scores, build_head, centred_shapes
from ..train import box_regression_loss, classifier_scores, fit, fit_classifier, predict_logits

#: Lesson 01's recipe (data, epochs, seeds) and the settings of its exercises.
BOX_EXERCISE_RECIPE = {
    **{key: value for key, value in BOX_LOSS_RECIPE.items() if key != "weights"},
    "settings": {
        "L2, lambda 1": {"kind": "l2", "weight": 1.0, "form": "cxcywh", "objects": 1},
        "L2, lambda 10": {"kind": "l2", "weight": 10.0, "form": "cxcywh", "objects": 1},
        "L2, lambda 100": {"kind": "l2", "weight": 100.0, "form": "cxcywh", "objects": 1},
        "L2 on the corners, lambda 10": {"kind": "l2", "weight": 10.0, "form": "xyxy", "objects": 1},
        "GIoU, lambda 0.5": {"kind": "giou", "weight": 0.5, "form": "cxcywh", "objects": 1},
        "GIoU, lambda 2": {"kind": "giou", "weight": 2.0, "form": "cxcywh", "objects": 1},
        "L2, lambda 10, trained on pairs": {"kind": "l2", "weight": 10.0, "form": "cxcywh", "objects": 2},
        "GIoU, lambda 2, trained on pairs": {"kind": "giou", "weight": 2.0, "form": "cxcywh", "objects": 2},
    },
}


def first_object(shapes):
    """Two-object :class:`helpers.data.Shapes` reduced to their first object (labels, boxes, masks)."""
    return Shapes(shapes.images, shapes.labels[:, 0], shapes.boxes[:, 0], shapes.masks[:, 0])


def train_box_setting(setting, seed, recipe=BOX_EXERCISE_RECIPE, device="cpu", progress=False):
    """Lesson 01's network trained with one of the recipe's ``settings``, weights and batches from ``seed``."""
    options = recipe["settings"][setting]
    train_set = make_shapes(recipe["train_images"], objects=options["objects"], seed=recipe["train_seed"])
    if options["objects"] == 2:
        train_set = first_object(train_set)
    set_seed(seed)
    model = TwoHeadNet(classes=len(SHAPE_CLASSES), size=64, width=recipe["width"])
    fit(model, train_set, box_regression_loss(options["kind"], options["weight"], options["form"]), recipe["epochs"],
        device=device, seed=seed, progress=progress)
    return model.eval()


def size_halves(predicted, truth):
    """Mean IoU and mean absolute corner error in pixels of the smaller and the larger half of the objects.

    The halves split the true boxes (N, 4) ``xyxy`` at their median area (ties go to the smaller half).
    """
    side = truth[:, 2:] - truth[:, :2]
    area = side.prod(dim=1)
    small = area <= area.median()
    ious, error = iou(predicted, truth), (predicted - truth).abs().mean(dim=1)
    return {f"{name}: {what}": values[half].mean().item()
            for name, half in (("small half", small), ("large half", ~small))
            for what, values in (("mean IoU", ious), ("corner error (px)", error))}


def box_exercise_scores(model, recipe=BOX_EXERCISE_RECIPE):
    """:func:`helpers.seeds.box_loss_scores`, the size halves of the test set, and the first object of each pair.

    On the held-out pairs: the accuracy on the first object's class and the mean IoU
    of the box with the first and with the second object.
    """
    test = make_shapes(recipe["test_images"], seed=recipe["test_seed"])
    pairs = make_shapes(recipe["pairs_images"], objects=2, seed=recipe["pairs_seed"])
    device = next(model.parameters()).device
    predicted = model.predict(test.images.to(device))[1].cpu()
    pair_labels, pair_boxes = (x.cpu() for x in model.predict(pairs.images.to(device)))
    return {**box_loss_scores(model, recipe), **size_halves(predicted, test.boxes),
            "pairs: accuracy on the first object's class": accuracy(pair_labels, pairs.labels[:, 0]),
            "pairs: mean IoU with the first object": iou(pair_boxes, pairs.boxes[:, 0]).mean().item(),
            "pairs: mean IoU with the second object": iou(pair_boxes, pairs.boxes[:, 1]).mean().item(),
            "pairs: mean box area (px)": convert(pair_boxes, "xyxy", "xywh")[:, 2:].prod(dim=1).mean().item()}


#: Lesson 02's recipe (data, widths, seeds) and the settings of its exercises.
HEAD_EXERCISE_RECIPE = {
    **{key: HEADS_RECIPE[key] for key in ("width", "hidden", "train_images", "epochs", "few_images", "train_seed",
                                          "test_images", "test_seed", "seeds", "shift", "shift_seed", "probe_images",
                                          "canvas_seed")},
    "sizes": [100, 300, 1000, 3000], "steps": 400, "batch_size": 32, "same_epochs": 4, "lr": 8e-3, "lower_lr": 2e-3,
    "canvases": [64, 96, 128], "pixels": [0, 1, 2, 3], "pixel_images": 200, "angles": [60, 72], "angle_images": 600,
    "angle_seed": 5, "map_images": 6,
}


def epochs_for(images, recipe=HEAD_EXERCISE_RECIPE):
    """Epochs that give ``images`` training images about the recipe's number of steps (at least one epoch)."""
    return max(1, round(recipe["steps"] / math.ceil(images / recipe["batch_size"])))


def _trained(kind, seed, train_set, epochs, recipe, lr=None, pool=None):
    """One of lesson 02's heads (:data:`helpers.seeds.HEADS`, or "NiN") trained with ``seed``; ``pool`` replaces
    GAP's average."""
    if kind == "NiN":
        set_seed(seed)
        net = NinNet(len(SHAPE_CLASSES), width=recipe["width"])
    else:
        net = build_head(kind, seed, recipe)
    if pool is not None:
        net.pool = pool
    fit_classifier(net, train_set, epochs, lr=lr or recipe["lr"], device="cpu", seed=seed, progress=False)
    return net.eval()


def shifted_right(images, pixels):
    """Images moved ``pixels`` to the right, the left edge column repeated into the gap."""
    return F.pad(images, (pixels, 0, 0, 0), mode="replicate")[..., :images.shape[-1]]


def head_exercise_runs(seed, recipe=HEAD_EXERCISE_RECIPE):
    """Every measurement of lesson 02's exercises for one seed (see the module's docstring), as a JSON-able dict."""
    test = centred_shapes(recipe["test_images"], recipe["test_seed"])
    results, nets = {"images": {}}, {}
    for images in recipe["sizes"]:  # exercise 1: the same number of steps
        train_set = centred_shapes(images, recipe["train_seed"])
        lesson = images == recipe["train_images"]  # the lesson's two networks: its images and epochs
        epochs = recipe["epochs"] if lesson else epochs_for(images, recipe)
        trained = {kind: _trained(kind, seed, train_set, epochs, recipe) for kind in HEADS[:2]}
        results["images"][images] = {kind: classifier_scores(net, test)["accuracy"] for kind, net in trained.items()}
        nets = trained if lesson else nets
    few = centred_shapes(recipe["few_images"], recipe["train_seed"])  # the lesson's epochs, a tenth of its images
    results["same epochs"] = {kind: classifier_scores(_trained(kind, seed, few, recipe["same_epochs"], recipe),
                                                      test)["accuracy"] for kind in HEADS[:2]}
    anywhere = make_shapes(recipe["train_images"], seed=recipe["train_seed"])  # exercise 2: anywhere, any angle
    anywhere_test = make_shapes(recipe["test_images"], seed=recipe["test_seed"])
    settings = ((HEADS[0], recipe["lr"]), (HEADS[0], recipe["lower_lr"]), (HEADS[1], recipe["lr"]))
    results["anywhere"] = {f"{kind}, lr {lr:g}": classifier_scores(
        _trained(kind, seed, anywhere, recipe["epochs"], recipe, lr=lr), anywhere_test)["accuracy"] for kind, lr in settings}
    centred = centred_shapes(recipe["train_images"], recipe["train_seed"])  # exercise 3: max pooling, trained
    peak = _trained(HEADS[1], seed, centred, recipe["epochs"], recipe, pool=nn.AdaptiveMaxPool2d(1))
    results["max pooling"] = {
        "test": classifier_scores(peak, test)["accuracy"],
        "shift": classifier_scores(peak, centred_shapes(recipe["probe_images"], recipe["shift_seed"],
                                                        shift=recipe["shift"]))["accuracy"],
        **{f"canvas {size}": classifier_scores(peak, centred_shapes(recipe["probe_images"], recipe["canvas_seed"], size=size,
                                                                    radius=(0.12 * 64, 0.22 * 64)))["accuracy"]
           for size in recipe["canvases"]}}
    probe = test.images[:recipe["pixel_images"]]  # exercise 4: whole-pixel shifts
    true = test.labels[:recipe["pixel_images"]]
    results["pixels"] = {}
    for kind, net in nets.items():
        p = torch.stack([predict_logits(net, shifted_right(probe, k)).softmax(dim=1).gather(1, true[:, None])[:, 0]
                         for k in recipe["pixels"]], dim=1)  # (images, shifts)
        spread = p.max(dim=1).values - p.min(dim=1).values
        results["pixels"][kind] = {"first image": p[0].tolist(), "mean range": spread.mean().item(),
                                   "largest range": spread.max().item()}
    results["angles"] = {}  # exercise 5: class by class at 60 and 72 degrees
    for angle in recipe["angles"]:
        turned = make_shapes(recipe["angle_images"], placement="centred", rotation=(angle, angle),
                             seed=recipe["angle_seed"])
        for kind, net in nets.items():
            guesses = predict_logits(net, turned.images).argmax(dim=1)
            results["angles"][f"{kind}, {angle} degrees"] = {
                name: accuracy(guesses[turned.labels == c], turned.labels[turned.labels == c])
                for c, name in enumerate(SHAPE_CLASSES)}
    nin = _trained("NiN", seed, centred, recipe["epochs"], recipe)  # exercise 6: NiN's class maps against CAM
    with torch.no_grad():
        nin_maps = nin.class_maps(nin.backbone(test.images)).gather(
            1, test.labels[:, None, None, None].expand(-1, 1, 16, 16))[:, 0]
    gap_maps = cam(nets[HEADS[1]], test.images, test.labels).maps[:, 0]
    alike = torch.stack([torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]
                         for a, b in zip(nin_maps, gap_maps)])
    shown = recipe["map_images"]
    results["class maps"] = {
        "NiN: smallest value": nin_maps.min().item(), "CAM: share of negative cells": (gap_maps < 0).float().mean().item(),
        "correlation, median": alike.nanmedian().item(),
        "NiN: pointing game": pointing_game(upsample(nin_maps[:, None], 64)[:, 0], test.boxes),
        "CAM: pointing game": pointing_game(upsample(gap_maps[:, None], 64)[:, 0], test.boxes),
        "NiN: maps shown": nin_maps[:shown].round(decimals=4).tolist(),
        "CAM: maps shown": gap_maps[:shown].round(decimals=4).tolist()}
    return results


#: Lesson 05's section 6 and the settings of its exercises (each a change of one thing).
AUGMENTED_EXERCISE_RECIPE = {
    "views": 32, "seeds": [0, 1, 2], "shapes": 400, "layer": "backbone.17", "resolution": 32, "iterations": 100,
    "settings": ["lesson", "resolution 64", "shifts only", "normalised by copy 0", "every cell inside",
                 "30 iterations", "300 iterations"],
}


def solve_counting(views, warps, side, inside, **options):
    """:func:`helpers.augmented.super_resolve` with the cells of value ``>= inside`` counted as inside the image
    (the module's ``INSIDE``, restored afterwards; 0 counts every cell, as the paper does).

    Returns ``(map, solution, history, unexplained share)``, the share measured on the same cells.
    """
    kept, augmented.INSIDE = augmented.INSIDE, inside
    try:
        solved, solution, history = augmented.super_resolve(views, warps, side, progress=False, **options)
        return solved, solution, history, augmented.unexplained(views, solution, warps)
    finally:
        augmented.INSIDE = kept


def augmented_exercise_rows(seed, recipe=AUGMENTED_EXERCISE_RECIPE, device="cpu"):
    """``{setting: {method: localization_row, "unexplained": share, "objective": final value}}`` for one seed of warps.

    Every setting solves the augmented map; those that change the views ("shifts
    only", "normalised by copy 0") also score the plain and the max / mean baselines.
    """
    model, test_set = checkpoints.load_shapes_gap(device), checkpoints.shapes_gap_test_set()
    count = recipe["shapes"]
    images, classes = test_set.images[:count].to(device), test_set.labels[:count].to(device)
    boxes, masks = test_set.boxes[:count], test_set.masks[:count]
    standard = augmented.sample_augmentations(recipe["views"], seed=seed)
    shifts = augmented.sample_augmentations(recipe["views"], rotation=(0.0, 0.0), seed=seed)

    def views_of(warps, reference="own"):
        return torch.cat([augmented.grad_cam_views(model, images[start:start + 100], classes[start:start + 100], warps,
                                                   recipe["layer"], reference) for start in range(0, count, 100)])

    views = views_of(standard)
    results = {}
    for setting in recipe["settings"]:
        warps, setting_views = standard, views
        options = {"resolution": recipe["resolution"], "iterations": recipe["iterations"]}
        if setting == "resolution 64":
            options["resolution"] = 64
        elif setting.endswith("iterations"):
            options["iterations"] = int(setting.split()[0])
        elif setting == "shifts only":
            warps, setting_views = shifts, views_of(shifts)
        elif setting == "normalised by copy 0":
            setting_views = views_of(standard, "copy 0")
        inside = 0.0 if setting == "every cell inside" else augmented.INSIDE
        solved, solution, history, share = solve_counting(setting_views, warps, 64, inside, **options)
        maps = {"augmented": solved}
        if setting in ("shifts only", "normalised by copy 0"):
            maps.update(augmented.baselines(setting_views, warps, 64))
        results[setting] = {method: localization_row(found.cpu(), boxes, masks, progress=False)[0]
                            for method, found in maps.items()}
        results[setting].update({"unexplained": share, "objective": history[-1]})
    return results
