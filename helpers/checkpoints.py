"""Trained lesson models shipped under ``data/checkpoints/``, with the recipe that made them.

Lesson 02 trains a GAP network and lesson 03 explains what it learned with CAM.
Training it again in lesson 03 would cost a minute, so ``scripts/make_checkpoints.py``
trains it once from fixed seeds with :func:`train_shapes_gap` and saves its state
dict (loadable with ``torch.load(..., weights_only=True)``) next to a JSON record
of the recipe, the held-out accuracy and the file's sha256. A test retrains it
from the same seeds and checks that the accuracy comes back within
``SHAPES_GAP_TOLERANCE``.

:func:`save` and :func:`load` do the same for any network: the seed-0 networks
of the experiments in :mod:`helpers.seeds` that a later lesson reuses are stored
this way (see ``helpers.seeds.stored_box_model`` and ``stored_flatten_net``).

Explained in 02_global_average_pooling.
"""

import json
from pathlib import Path

import torch

from .data import DATA_DIR, SHAPE_CLASSES, make_shapes
from .device import set_seed
from .metrics import accuracy
from .models import GapNet, sha256_of
from .train import fit_classifier, predict_classes

CHECKPOINT_DIR = DATA_DIR / "checkpoints"

#: How the shapes GAP model is made: the network, the data and the training budget.
SHAPES_GAP_RECIPE = {
    "width": 8,
    "train_images": 8000,
    "train_seed": 1,
    "test_images": 1000,
    "test_seed": 2,
    "placement": "anywhere",
    "rotation": [0.0, 360.0],
    "weights_seed": 0,
    "epochs": 4,
    "lr": 8e-3,
    "batch_size": 32,
}

#: Largest difference in held-out accuracy allowed between the checkpoint and a retrained model.
SHAPES_GAP_TOLERANCE = 0.01


def _shapes(recipe, split):
    return make_shapes(recipe[f"{split}_images"], placement=recipe["placement"], rotation=tuple(recipe["rotation"]),
                       seed=recipe[f"{split}_seed"])


def shapes_gap_test_set(recipe=SHAPES_GAP_RECIPE):
    """The held-out images the shapes GAP model is scored on (not used in training)."""
    return _shapes(recipe, "test")


def train_shapes_gap(recipe=SHAPES_GAP_RECIPE, device="cpu", progress=True):
    """Train the shapes GAP model from the recipe's seeds; return ``(model in eval mode, test accuracy)``."""
    set_seed(recipe["weights_seed"])
    model = GapNet(classes=len(SHAPE_CLASSES), width=recipe["width"])
    fit_classifier(model, _shapes(recipe, "train"), recipe["epochs"], lr=recipe["lr"],
                   batch_size=recipe["batch_size"], device=device, seed=recipe["train_seed"], progress=progress)
    test = shapes_gap_test_set(recipe)
    return model, accuracy(predict_classes(model, test.images), test.labels)


def save(model, name, record, directory=CHECKPOINT_DIR):
    """Write ``<name>.pt`` (the state dict on the CPU) and ``<name>.json`` (``record``, sha256, torch version)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.pt"
    torch.save({key: tensor.cpu() for key, tensor in model.state_dict().items()}, weights)
    record = {**record, "sha256": sha256_of(weights), "torch": torch.__version__}
    (directory / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def record(name, directory=CHECKPOINT_DIR):
    """The JSON record saved with checkpoint ``name``: its recipe, what it scored, sha256, torch version."""
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `.venv/bin/python scripts/make_checkpoints.py {name}`")
    return json.loads(path.read_text())


def load(name, model, device=None, directory=CHECKPOINT_DIR):
    """``model`` (built to the recipe's shape) with the weights of checkpoint ``name``, in eval mode.

    Raises:
        FileNotFoundError: the checkpoint has not been made.
        ValueError: the weights file's sha256 differs from the one recorded with it.
    """
    expected = record(name, directory)["sha256"]
    weights = Path(directory) / f"{name}.pt"
    digest = sha256_of(weights)
    if digest != expected:
        raise ValueError(f"checksum mismatch for {weights}: recorded {expected}, got {digest}; "
                         f"make it again with scripts/make_checkpoints.py {name}")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device if device is not None else "cpu").eval()


def save_shapes_gap(model, test_accuracy, directory=CHECKPOINT_DIR, recipe=SHAPES_GAP_RECIPE):
    """Write ``shapes_gap.pt`` and ``shapes_gap.json`` (recipe, held-out accuracy, sha256)."""
    return save(model, "shapes_gap", {"recipe": recipe, "test_accuracy": round(test_accuracy, 4)}, directory)


def shapes_gap_record(directory=CHECKPOINT_DIR):
    """The JSON record saved with the shapes GAP checkpoint: recipe, test accuracy, sha256, torch version."""
    return record("shapes_gap", directory)


def load_shapes_gap(device=None, directory=CHECKPOINT_DIR):
    """The trained shapes GAP model (a :class:`helpers.models.GapNet`), in eval mode (errors as :func:`load`)."""
    width = shapes_gap_record(directory)["recipe"]["width"]
    return load("shapes_gap", GapNet(classes=len(SHAPE_CLASSES), width=width), device, directory)
