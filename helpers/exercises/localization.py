"""Lesson 01's exercises: the IoU of two batches of boxes, and the CE + lambda L2 training loss."""

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from ..boxes import box_loss, convert, iou
from .checking import Exercise, Mistake


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
