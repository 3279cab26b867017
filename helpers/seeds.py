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
"""

import copy
import json

from torch import nn

from .boxes import iou
from .data import DATA_DIR, SHAPE_CLASSES, make_shapes
from .device import set_seed
from .metrics import accuracy, localization_accuracy, two_object_row
from .models import GapNet, TwoHeadNet
from .train import box_regression_loss, fit, fit_classifier, predict_logits

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
    model = TwoHeadNet(classes=len(SHAPE_CLASSES), size=64, width=recipe["width"])
    fit(model, train_set, box_regression_loss(kind, recipe["weights"][kind]), recipe["epochs"], device=device,
        seed=seed, progress=progress)
    return model.eval()


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
