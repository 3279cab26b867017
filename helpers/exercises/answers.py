"""The experiments behind the worked answers that train networks, too slow to rerun in ``make test``.

The worked answers to the open exercises (``notebooks/solutions/``) compute what
they can live; where an answer needs many trained networks, ``scripts/run_seeds.py``
runs it once per seed and stores the recipe and the scores under ``data/seeds/``
(:func:`helpers.seeds.save`), and the solution loads them. Each experiment also
reruns one setting of a stored lesson experiment, so the solution can check that
the two runs agree.

- ``box_exercises`` (lesson 01, exercises 1 to 5; about 17 minutes on 2 CPU cores): lesson 01's class + box network
  trained for each setting of :data:`BOX_EXERCISE_RECIPE` and each seed: the L2
  loss with lambda 1, 10 and 100; L2 on the corners ``xyxy`` instead of
  ``cxcywh``; GIoU with lambda 0.5 and 2; and L2 or GIoU trained on two-object
  images with the *first* object's class and box as the target (the first of the
  two is drawn at random, so nothing in an image says which one is meant).
"""

from ..boxes import convert, iou
from ..data import SHAPE_CLASSES, Shapes, make_shapes
from ..device import set_seed
from ..metrics import accuracy
from ..models import TwoHeadNet
from ..seeds import BOX_LOSS_RECIPE, box_loss_scores
from ..train import box_regression_loss, fit

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
