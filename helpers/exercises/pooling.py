"""Lesson 02's exercises: a global-average-pooling head, and what each head costs in parameters."""

import torch
import torch.nn.functional as F
from torch import nn

from .checking import Exercise, Mistake


def _feature_cases(generator, device):
    """Features (B, K, h, w) with a non-square grid (so the two spatial axes cannot be confused), weights, biases."""
    cases = []
    for batch, channels, height, width, classes in ((4, 8, 5, 3, 6), (1, 3, 1, 7, 2)):
        features = torch.randn(batch, channels, height, width, generator=generator).relu()
        weight = torch.randn(classes, channels, generator=generator)
        bias = torch.randn(classes, generator=generator)
        cases.append((features.to(device), weight.to(device), bias.to(device)))
    return cases


def _gap_logits(features, weight, bias):
    return F.linear(features.mean(dim=(2, 3)), weight, bias)


def _head_cases(generator, device):
    """The lesson's sizes (32 channels on a 16 x 16 grid, 128 hidden units, 6 classes), then random ones."""
    drawn = tuple(int(n) for n in torch.randint(2, 40, (5,), generator=generator))
    return [(32, 16, 16, 128, 6), drawn]


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _head_parameters(channels, height, width, hidden, classes):
    """(flatten -> hidden -> classes, GAP -> classes), counted on modules built on the meta device (no memory)."""
    flatten = nn.Sequential(nn.Linear(channels * height * width, hidden, device="meta"),
                            nn.Linear(hidden, classes, device="meta"))
    return _count(flatten), _count(nn.Linear(channels, classes, device="meta"))


EXERCISES = {
    "gap_logits": Exercise(
        "my_gap_logits(features, weight, bias)", _feature_cases, _gap_logits,
        (Mistake(lambda f, w, b: F.linear(f.sum(dim=(2, 3)), w, b),
                 "Global *average* pooling: divide each channel's sum by the number of cells h * w "
                 "(features.mean over the two spatial axes)."),
         Mistake(lambda f, w, b: F.linear(f.amax(dim=(2, 3)), w, b),
                 "That is global max pooling; GAP averages each channel over all its cells."),
         Mistake(lambda f, w, b: F.linear(f.mean(dim=(2, 3)), w),
                 "The linear layer adds its bias: logits = pooled @ weight.T + bias."),
         Mistake(lambda f, w, b: F.linear(f[:, :, 0, 0], w, b),
                 "Pool over every cell of the grid, not one position.")),
        "batches of 4 and 1, non-square grids"),
    "head_parameters": Exercise(
        "my_head_parameters(channels, height, width, hidden, classes)", _head_cases, _head_parameters,
        (Mistake(lambda c, h, w, n, k: (c * h * w * n + n * k, c * k),
                 "Every linear layer also has one bias per output: (inputs + 1) * outputs."),
         Mistake(lambda c, h, w, n, k: ((c + 1) * n + (n + 1) * k, (c + 1) * k),
                 "The flattened features have channels * height * width numbers, one per channel and cell."),
         Mistake(lambda c, h, w, n, k: ((c * h * w + 1) * n + (n + 1) * k, (c * h * w + 1) * k),
                 "After global average pooling each channel is one number, whatever the grid: the GAP head sees "
                 "only `channels` inputs.")),
        "the lesson's sizes and random ones"),
}
