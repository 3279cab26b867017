"""Lesson 07's exercises: the area under a deletion curve, and Spearman's rank correlation of two maps."""

import torch

from ..compare import rank_correlation
from ..metrics import curve_auc
from .checking import Exercise, Mistake


def _curve_cases(generator, device):
    """Probabilities at T + 1 evenly spaced points of B curves (T = 8 and T = 1)."""
    return [(torch.rand(4, 9, generator=generator).to(device),), (torch.rand(1, 2, generator=generator).to(device),)]


def _pair_cases(generator, device):
    """Pairs of flattened maps (N, P): without ties, then with the ties of ReLU'd maps (many zeros)."""
    a, b = torch.randn(2, 3, 30, generator=generator)
    c, d = torch.randn(2, 2, 40, generator=generator)
    return [(a.to(device), (a + b).to(device)), (c.relu().to(device), (c + 0.5 * d).relu().to(device))]


def _spearman(a, b):
    return rank_correlation(a[..., None], b[..., None]).to(a.device)


def _pearson(a, b):
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def _ordinal(values):
    """Ranks without tie handling: argsort of argsort (ties ranked by position)."""
    return values.argsort(dim=1, stable=True).argsort(dim=1).float()


EXERCISES = {
    "auc": Exercise(
        "my_auc(curves)", _curve_cases, curve_auc,
        (Mistake(lambda c: c.mean(dim=1),
                 "Use the trapezoidal rule: the first and last points count half, and the T + 1 points span T "
                 "steps of width 1 / T."),
         Mistake(lambda c: c[:, 1:].sum(dim=1) / (c.shape[1] - 1),
                 "That is a sum of rectangles; the trapezoidal rule averages each step's two ends."),
         Mistake(lambda c: c.sum(dim=1) - c[:, 0] / 2 - c[:, -1] / 2,
                 "The x axis is the fraction of pixels, from 0 to 1: divide by the T steps.")),
        "curves of 9 and 2 points"),
    "spearman": Exercise(
        "my_spearman(a, b)", _pair_cases, _spearman,
        (Mistake(_pearson,
                 "Spearman's correlation is the Pearson correlation of the *ranks*, not of the values."),
         Mistake(lambda a, b: _pearson(a.argsort(dim=1).float(), b.argsort(dim=1).float()),
                 "argsort gives the order of the values, not their ranks: the rank of each value is the argsort of "
                 "the argsort."),
         Mistake(lambda a, b: _pearson(_ordinal(a), _ordinal(b)),
                 "Tied values (a ReLU's zeros) must share their mean rank, not be ranked by position.")),
        "maps without ties, and ReLU'd maps with many ties", atol=1e-4),
}
