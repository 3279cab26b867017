"""One training loop for every lesson that trains a network.

Data is a tuple of tensors that share their first dimension, e.g. a
:class:`helpers.data.Shapes` batch (images, labels, boxes, masks): the whole set
moves to the device once and each mini-batch is a slice of every tensor, in an
order shuffled by a seeded generator. What is minimised is up to the lesson: a
``loss_fn(outputs, batch)`` returns a dict of scalar tensors whose ``"loss"`` entry
is minimised and whose other entries (parts of the loss) are logged.

Explained in 01_localization_regression.
"""

import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .boxes import box_loss, convert, normalize
from .device import get_device


class History(dict):
    """Per-epoch records: ``history["train loss"]`` is a list with one float per epoch."""

    def log(self, name, value):
        self.setdefault(name, []).append(float(value))


def _like(data, fields):
    """A tuple of the same kind as ``data`` (named tuples keep their names)."""
    return type(data)(*fields) if hasattr(data, "_fields") else tuple(fields)


def _batches(data, batch_size, generator):
    count = data[0].shape[0]
    order = torch.randperm(count, generator=generator).to(data[0].device)
    for start in range(0, count, batch_size):
        index = order[start:start + batch_size]
        yield _like(data, (field[index] for field in data))


def train(model, data, loss_fn, optimizer, epochs, *, batch_size=64, device=None, seed=0, evaluate=None,
          scheduler=None, progress=True):
    """Train ``model`` for ``epochs`` passes over ``data``; return a :class:`History`.

    Args:
        model: an ``nn.Module``; moved to ``device`` and left in eval mode at the end.
        data: tuple (or named tuple) of tensors with the same first dimension; the
            first is the model's input.
        loss_fn: ``loss_fn(outputs, batch) -> {"loss": tensor, other parts...}``.
        optimizer: a ``torch.optim`` optimiser over ``model``'s parameters.
        epochs: number of passes (int >= 1).
        batch_size: images per step.
        device: where to train (see :func:`helpers.device.get_device`).
        seed: seeds the shuffling, so the same seed gives the same batches. Seed
            the weights yourself (``set_seed``) before building the model.
        evaluate: optional ``evaluate(model) -> {name: float}``, called in eval
            mode after each epoch (e.g. test accuracy); logged as ``"test <name>"``.
        scheduler: optional learning-rate scheduler, stepped after every batch
            (e.g. ``torch.optim.lr_scheduler.OneCycleLR``).
        progress: show a ``tqdm`` bar over the epochs.

    Returns:
        History with ``"train <part>"`` (each loss part averaged over the
        epoch's batches), ``"test <name>"`` and ``"seconds"`` (wall time per
        epoch, evaluation included).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(data, tuple) or not data or len({field.shape[0] for field in data}) != 1:
        raise ValueError("data must be a non-empty tuple of tensors with the same first dimension")
    device = get_device(device)
    model.to(device)
    data = _like(data, (field.to(device) for field in data))
    generator = torch.Generator().manual_seed(seed)
    history = History()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
    for _ in bar:
        start = time.perf_counter()
        model.train()
        sums, steps = {}, 0
        for batch in _batches(data, batch_size, generator):
            parts = loss_fn(model(batch[0]), batch)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for name, value in parts.items():
                sums[name] = sums.get(name, 0) + value.detach()
            steps += 1
        for name, total in sums.items():
            history.log(f"train {name}", total / steps)
        model.eval()
        if evaluate is not None:
            with torch.no_grad():
                for name, value in evaluate(model).items():
                    history.log(f"test {name}", value)
        history.log("seconds", time.perf_counter() - start)
        bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.items() if k != "seconds"})
    return history


def classification_loss(outputs, batch):
    """Cross-entropy of class logits ``outputs`` against ``batch.labels``, as a ``loss_fn`` for :func:`train`."""
    return {"loss": F.cross_entropy(outputs, batch.labels)}


@torch.no_grad()
def predict_logits(model, images, batch_size=500):
    """The model's outputs for ``images`` (N, ...): eval mode, in batches on the model's device, returned on the CPU."""
    device = next(model.parameters()).device
    model.eval()
    return torch.cat([model(images[start:start + batch_size].to(device)).cpu()
                      for start in range(0, images.shape[0], batch_size)])


def classifier_scores(model, shapes):
    """``{"accuracy", "loss"}`` of a classifier on :class:`helpers.data.Shapes`: the share of right argmaxes and the mean cross-entropy."""
    logits = predict_logits(model, shapes.images)
    return {"accuracy": (logits.argmax(dim=1) == shapes.labels).float().mean().item(),
            "loss": F.cross_entropy(logits, shapes.labels).item()}


def predict_classes(model, images, batch_size=500):
    """Class indices ``(N,)`` the model predicts for ``images``: the argmax of :func:`predict_logits`."""
    return predict_logits(model, images, batch_size).argmax(dim=1)


def box_regression_loss(kind="l2", weight=10.0, form="cxcywh"):
    """Lesson 01's loss for a :class:`helpers.models.TwoHeadNet`, as a ``loss_fn`` for :func:`train`.

    ``CE(logits, labels) + weight * box_loss(predicted, target)``: the box head's
    normalised ``(cx, cy, w, h)`` against the true box in the same form, with
    :func:`helpers.boxes.box_loss` of ``kind`` ("l2", "smooth_l1" or "giou").
    ``form="xyxy"`` measures the distance between the corners instead (not for
    "giou", which compares the boxes themselves): for L2 per axis
    ``(dcx - dw/2)^2 + (dcx + dw/2)^2 = 2 dcx^2 + dw^2 / 2``, so the centre weighs
    four times as much as the size (lesson 01's exercise 2).
    """
    if form not in ("cxcywh", "xyxy") or (form == "xyxy" and kind == "giou"):
        raise ValueError(f"form must be 'cxcywh', or 'xyxy' for the l2 and smooth_l1 losses; got {form!r} for {kind!r}")

    def loss_fn(outputs, batch):
        logits, predicted = outputs
        target = convert(normalize(batch.boxes, batch.images.shape[-1]), "xyxy", form)
        ce = F.cross_entropy(logits, batch.labels)
        if form == "xyxy":
            predicted = convert(predicted, "cxcywh", "xyxy")
        box = box_loss(predicted, target, kind)
        return {"loss": ce + weight * box, "ce": ce, "box": box}

    return loss_fn


def fit(model, data, loss_fn, epochs, *, lr=8e-3, batch_size=32, weight_decay=1e-4, device=None, seed=0,
        evaluate=None, progress=True):
    """The course's training recipe: AdamW and a one-cycle learning rate, for any ``loss_fn`` of :func:`train`.

    One-cycle (Smith & Topin, 2019) warms the rate up to ``lr`` and anneals it to
    nearly zero within ``epochs``, which gives a good model in few epochs. Seed
    the weights before building ``model``; ``seed`` fixes the batches. Other
    arguments as in :func:`train`, whose :class:`History` is returned.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    steps = epochs * -(-data[0].shape[0] // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    return train(model, data, loss_fn, optimizer, epochs, batch_size=batch_size, device=device,
                 seed=seed, evaluate=evaluate, scheduler=schedule, progress=progress)


def fit_classifier(model, data, epochs, **options):
    """:func:`fit` with cross-entropy: the course's recipe for a shapes classifier."""
    return fit(model, data, classification_loss, epochs, **options)
