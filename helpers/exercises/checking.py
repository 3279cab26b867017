"""How one exercise is checked: run the learner's function on seeded cases, compare, explain.

An :class:`Exercise` holds its cases (drawn from a ``torch.Generator`` seeded with
each of :data:`SEEDS`), its reference answer (from ``helpers``) and its known
mistakes; :func:`run_check` turns the learner's function into a :class:`Verdict`:

- ``correct``, with what was checked;
- ``not implemented`` while the stub still raises ``NotImplementedError``;
- ``mistake``: an answer that equals a known wrong variant gets that mistake's own hint;
- ``error``: an exception in the learner's code, named with the line it came from;
- ``wrong``: anything else, said as the first case that differs and how (type, shape,
  dtype or size of the difference), never with the expected values.

Answers may be tensors, tuples of tensors or plain numbers.
"""

import math
import traceback
from typing import Callable, NamedTuple

import torch

from ..device import get_device

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
    atol: float = 1e-5  #: tolerance of the comparison (absolute, and 10 times it relative)


class Verdict(NamedTuple):
    """A check's answer: ``status`` (correct / not implemented / mistake / error / wrong) and the message shown."""

    status: str
    message: str

    def __bool__(self):
        return self.status == "correct"

    def __repr__(self):
        return self.message


def same(answer, expected, atol=1e-5):
    """Whether ``answer`` equals ``expected`` (a tensor, a tuple of them, or a number) to tolerance."""
    if isinstance(expected, tuple):
        return (isinstance(answer, (tuple, list)) and len(answer) == len(expected)
                and all(same(a, e, atol) for a, e in zip(answer, expected)))
    if isinstance(expected, torch.Tensor):
        return (isinstance(answer, torch.Tensor) and answer.shape == expected.shape
                and answer.is_floating_point() == expected.is_floating_point()
                and bool(torch.allclose(answer.detach().to(expected.device, expected.dtype), expected, atol=atol,
                                        rtol=10 * atol, equal_nan=True)))
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    return (isinstance(answer, (int, float)) and not isinstance(answer, bool)
            and math.isclose(answer, expected, abs_tol=atol, rel_tol=10 * atol))


def _where(error, function):
    """``" (line N: <source>)"`` for the deepest frame of ``error`` inside ``function``'s own code, else ``""``."""
    code = getattr(function, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if code and f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    source = f": {frame.line.strip()}" if frame.line else ""
    return f" (line {frame.lineno - code.co_firstlineno + 1} of your function{source})"


def difference(answer, expected):
    """How ``answer`` differs from ``expected``, in words that do not give the expected values away."""
    if isinstance(expected, tuple):
        if not isinstance(answer, (tuple, list)) or len(answer) != len(expected):
            return f"it should return {len(expected)} values, got {type(answer).__name__}"
        index = next(i for i, (a, e) in enumerate(zip(answer, expected)) if not same(a, e))
        return f"in the value number {index + 1} it returned, {difference(answer[index], expected[index])}"
    if not isinstance(expected, torch.Tensor):
        return f"it returned {answer!r}, which is not the right number"
    if not isinstance(answer, torch.Tensor):
        return f"it returned a {type(answer).__name__}, not a tensor"
    if answer.shape != expected.shape:
        return f"it returned shape {tuple(answer.shape)} where {tuple(expected.shape)} was expected"
    if answer.is_floating_point() != expected.is_floating_point():
        return f"it returned {answer.dtype} values where {expected.dtype} was expected"
    gap = (answer.detach().to(expected.device, expected.dtype) - expected).abs()
    return f"the shape is right but values differ by up to {gap.nan_to_num(float('inf')).max().item():.3g}"


def run_check(name, exercise, function, device=None):
    """Run ``exercise``'s cases through ``function``; return a :class:`Verdict` (shown as its message)."""
    device = get_device(device)
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
            if same(answer, expected, exercise.atol):
                continue
            for mistake in exercise.mistakes:
                if same(answer, mistake.wrong(*arguments), exercise.atol):
                    return Verdict("mistake", f"{name}: not yet. {mistake.hint}")
            return Verdict("wrong", f"{name}: not yet. On test case {count}, {difference(answer, expected)}.")
    return Verdict("correct", f"{name}: correct ({count} cases: {exercise.checked}).")
