"""Checked exercises: the learner writes a lesson's core computation and one call says whether it is right.

``check(name, function)`` runs the learner's ``function`` on small cases drawn
from two fixed seeds (so no verdict rests on one lucky draw), compares each
answer with the reference in ``helpers`` and answers in one or two plain lines:
correct (with what was checked), not implemented yet, a hint for each known
mistake, the learner's error and its line, or how the answer differs. A check
never prints the reference solution; cases live on the lesson's device (CPU or
GPU alike) and are copied before each call. See :mod:`.checking`.

The exercises, one module per lesson: :mod:`.localization` (01: ``iou``, ``loss``),
:mod:`.pooling` (02: ``gap_logits``, ``head_parameters``), :mod:`.activation_maps`
(03: ``cam``, ``box``), :mod:`.gradients` (04: ``grad_cam``, ``layer_gradients``),
:mod:`.warping` (05: ``total_variation``, ``warp``), :mod:`.sampling` (06:
``rise_estimator``, ``masked_scores``), :mod:`.comparing` (07: ``auc``, ``spearman``).
:mod:`.answers` holds the training behind the worked answers to the open exercises.
"""

from . import activation_maps, comparing, gradients, localization, pooling, sampling, warping
from .checking import SEEDS, Exercise, Mistake, Verdict, run_check

#: Every exercise by name, in lesson order.
EXERCISES = {name: exercise for module in (localization, pooling, activation_maps, gradients, warping, sampling,
                                           comparing)
             for name, exercise in module.EXERCISES.items()}

__all__ = ["EXERCISES", "SEEDS", "Exercise", "Mistake", "Verdict", "check"]


def check(name, function, device=None):
    """Check the learner's ``function`` for exercise ``name``; returns a :class:`Verdict`, shown as its message."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    return run_check(name, EXERCISES[name], function, device)
