"""Checked exercises: the learner writes a lesson's core computation and one call says whether it is right.

``check(name, function)`` runs the learner's ``function`` on small cases drawn
from two fixed seeds (so no verdict rests on one lucky draw), compares each
answer with the reference in ``helpers``, and answers in one or two plain lines:

- ``correct``, with what was checked;
- ``not implemented`` while the stub still raises ``NotImplementedError``;
- ``mistake``: an answer that equals a known wrong variant (xywh read as xyxy,
  the norm instead of its square, ...) gets that mistake's own hint;
- ``error``: an exception in the learner's code, named with the line it came from;
- ``wrong``: anything else, said as the first case that differs and how (shape,
  dtype, or size of the difference), never with the expected values.

A check never prints the reference solution. Cases live on the lesson's device
(CPU or GPU alike) and are copied before each call, so a function that changes
its inputs in place cannot change the reference's.

Each exercise is an :class:`Exercise` in :data:`EXERCISES`, keyed by its name.
"""

import traceback
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from .boxes import box_loss, convert, iou
from .device import get_device

SEEDS = (0, 1)


class Mistake(NamedTuple):
    """A typical wrong answer, computed by ``wrong`` from the same arguments, and the hint it deserves."""

    wrong: Callable
    hint: str


class Exercise(NamedTuple):
    """One checked exercise: its cases, its reference, its known mistakes."""

    signature: str  #: the stub's signature, as the lesson gives it
    cases: Callable  #: (generator, device) -> list of argument tuples
    reference: Callable  #: the right answer, from ``helpers``
    mistakes: tuple  #: of :class:`Mistake`
    checked: str  #: what a correct answer has been checked on, in words


class Verdict(NamedTuple):
    """A check's answer: ``status`` (correct / not implemented / mistake / error / wrong) and the message shown."""

    status: str
    message: str

    def __bool__(self):
        return self.status == "correct"

    def __repr__(self):
        return self.message


def _same(answer, expected, atol=1e-5, rtol=1e-4):
    return (isinstance(answer, torch.Tensor) and answer.shape == expected.shape
            and bool(torch.allclose(answer.detach().to(expected.device, expected.dtype), expected, atol=atol,
                                    rtol=rtol, equal_nan=True)))


def _where(error, function):
    """``" (line N: <source>)"`` for the deepest frame of ``error`` inside ``function``'s own code, else ``""``."""
    code = getattr(function, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if code and f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    source = f": {frame.line.strip()}" if frame.line else ""
    return f" (line {frame.lineno - code.co_firstlineno + 1} of your function{source})"


def _difference(answer, expected):
    if not isinstance(answer, torch.Tensor):
        return f"it returned a {type(answer).__name__}, not a tensor"
    if answer.shape != expected.shape:
        return f"it returned shape {tuple(answer.shape)} where {tuple(expected.shape)} was expected"
    if not answer.is_floating_point():
        return f"it returned {answer.dtype} values; a floating-point tensor was expected"
    gap = (answer.detach().to(expected.device, expected.dtype) - expected).abs()
    return f"the shape is right but values differ by up to {gap.nan_to_num(float('inf')).max().item():.3g}"


def check(name, function, device=None):
    """Run exercise ``name``'s cases through ``function`` and return a :class:`Verdict` (shown as its message)."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    exercise, device = EXERCISES[name], get_device(device)
    count = 0
    for seed in SEEDS:
        for arguments in exercise.cases(torch.Generator().manual_seed(seed), device):
            count += 1
            try:
                answer = function(*(a.clone() if isinstance(a, torch.Tensor) else a for a in arguments))
            except NotImplementedError:
                return Verdict("not implemented", f"{name}: not implemented yet. Write the body of "
                                                  f"{exercise.signature}, then run this cell again.")
            except Exception as error:  # the learner's bug, reported in one line instead of a traceback
                return Verdict("error", f"{name}: your function raised {type(error).__name__}: {error}"
                                        f"{_where(error, function)}.")
            expected = exercise.reference(*arguments)
            if _same(answer, expected):
                continue
            for mistake in exercise.mistakes:
                if _same(answer, mistake.wrong(*arguments)):
                    return Verdict("mistake", f"{name}: not yet. {mistake.hint}")
            return Verdict("wrong", f"{name}: not yet. On test case {count}, {_difference(answer, expected)}.")
    return Verdict("correct", f"{name}: correct ({count} cases: {exercise.checked}).")


# Lesson 01 ---------------------------------------------------------------------------------------------------------


def _box_pairs(generator, device):
    """Pairs of xyxy boxes in a 64-pixel image: random ones, then identical, nested, disjoint and touching ones."""
    corners = torch.rand(2, 16, 2, 2, generator=generator) * 64
    random = torch.cat([corners.amin(dim=2), corners.amax(dim=2)], dim=-1)  # (2, 16, 4)
    a = torch.tensor([[10.0, 10, 30, 30], [0, 0, 64, 64], [5, 5, 15, 15], [20, 20, 40, 30]])
    b = torch.tensor([[10.0, 10, 30, 30], [16, 16, 48, 48], [30, 30, 50, 60], [40, 20, 50, 30]])
    return [(random[0].to(device), random[1].to(device)), (a.to(device), b.to(device))]


def _iou_without_clamp(a, b):
    size = torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])
    inter = size.prod(dim=1)
    return inter / ((a[:, 2:] - a[:, :2]).prod(dim=1) + (b[:, 2:] - b[:, :2]).prod(dim=1) - inter)


def _iou_union_without_overlap(a, b):
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0).prod(dim=1)
    return inter / ((a[:, 2:] - a[:, :2]).prod(dim=1) + (b[:, 2:] - b[:, :2]).prod(dim=1))


def _loss_cases(generator, device):
    cases = []
    for count, weight in ((8, 10.0), (1, 2.0)):
        logits = torch.randn(count, 6, generator=generator)
        labels = torch.randint(0, 6, (count,), generator=generator)
        predicted, target = torch.rand(2, count, 4, generator=generator)
        cases.append(tuple(x.to(device) for x in (logits, labels, predicted, target)) + (weight,))
    return cases


def _loss(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * box_loss(predicted, target, "l2")


EXERCISES = {
    "iou": Exercise(
        "my_iou(boxes_a, boxes_b)", _box_pairs, iou,
        (Mistake(lambda a, b: iou(convert(a, "xywh", "xyxy"), convert(b, "xywh", "xyxy")),
                 "The boxes are corners (x0, y0, x1, y1), not (x, y, width, height): the width is x1 - x0."),
         Mistake(_iou_without_clamp,
                 "Boxes that do not overlap must get an intersection of 0: clamp the intersection's width and height "
                 "at 0 before multiplying them (two negative sides would make a positive area)."),
         Mistake(_iou_union_without_overlap,
                 "The union counts the overlap once: area(A) + area(B) - intersection."),
         Mistake(box_iou,
                 "Pair the boxes row by row (a[i] with b[i]) and return one IoU per row, shape (N,), "
                 "not the N x N table of all pairs.")),
        "random, identical, nested, disjoint and touching boxes"),
    "loss": Exercise(
        "my_loss(logits, labels, predicted, target, weight)", _loss_cases, _loss,
        (Mistake(lambda logits, labels, p, t, w: F.cross_entropy(logits, labels) + w * (p - t).norm(dim=1).mean(),
                 "The lesson squares the L2 distance: sum the squared differences of the four numbers, no square "
                 "root."),
         Mistake(lambda logits, labels, p, t, w: F.cross_entropy(logits, labels) + w * (p - t).pow(2).mean(),
                 "Sum the squared differences over the four box numbers, then average over the images; a mean over "
                 "everything divides by 4 more."),
         Mistake(lambda logits, labels, p, t, w: F.cross_entropy(logits, labels) + (p - t).pow(2).sum(1).mean(),
                 "Multiply the box term by the weight lambda."),
         Mistake(lambda logits, labels, p, t, w: F.cross_entropy(logits.softmax(dim=1), labels)
                 + w * box_loss(p, t, "l2"),
                 "F.cross_entropy takes the logits and applies the softmax itself: do not pass probabilities.")),
        "batches of 8 and of 1, two weights"),
}
