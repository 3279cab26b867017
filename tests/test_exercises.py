"""helpers.exercises: right answers pass, stubs are "not implemented yet", each known mistake gets its own hint."""

import pytest
import torch
import torch.nn.functional as F

from helpers import exercises


def area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def overlap(a, b):
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    return width * height


def good_iou(a, b):
    return overlap(a, b) / (area(a) + area(b) - overlap(a, b))


def iou_of_xywh(a, b):  # reads (x0, y0, x1, y1) as (x, y, w, h)
    def corners(boxes):
        return torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)
    return good_iou(corners(a), corners(b))


def iou_unclamped(a, b):
    width = torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])
    height = torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])
    return width * height / (area(a) + area(b) - width * height)


def iou_union_as_sum(a, b):
    return overlap(a, b) / (area(a) + area(b))


def iou_all_pairs(a, b):
    return torch.stack([good_iou(a[i:i + 1].expand_as(b), b) for i in range(len(a))])


def good_loss(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * ((predicted - target) ** 2).sum(dim=1).mean()


def loss_with_norm(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * torch.linalg.vector_norm(predicted - target, dim=1).mean()


def loss_mean_over_all(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * F.mse_loss(predicted, target)


def loss_without_weight(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + ((predicted - target) ** 2).sum(dim=1).mean()


def loss_on_probabilities(logits, labels, predicted, target, weight):
    return F.cross_entropy(F.softmax(logits, dim=1), labels) + weight * ((predicted - target) ** 2).sum(dim=1).mean()


def stub(*args):
    raise NotImplementedError


SOLUTIONS = {"iou": good_iou, "loss": good_loss}
MISTAKES = [  # (exercise, wrong implementation, words its hint must hold)
    ("iou", iou_of_xywh, "not (x, y, width, height)"),
    ("iou", iou_unclamped, "clamp the intersection"),
    ("iou", iou_union_as_sum, "counts the overlap once"),
    ("iou", iou_all_pairs, "not the N x N table"),
    ("loss", loss_with_norm, "squares the L2 distance"),
    ("loss", loss_mean_over_all, "divides by 4 more"),
    ("loss", loss_without_weight, "by the weight lambda"),
    ("loss", loss_on_probabilities, "do not pass probabilities"),
]


def test_every_exercise_has_a_solution_here():
    assert set(SOLUTIONS) == set(exercises.EXERCISES)


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_a_right_answer_is_correct_and_a_stub_is_not_implemented(name):
    verdict = exercises.check(name, SOLUTIONS[name])
    assert verdict and verdict.status == "correct" and repr(verdict).startswith(f"{name}: correct (")
    verdict = exercises.check(name, stub)
    assert not verdict and verdict.status == "not implemented" and "not implemented yet" in verdict.message


@pytest.mark.parametrize("name, wrong, words", MISTAKES, ids=[f"{n}-{w.__name__}" for n, w, _ in MISTAKES])
def test_each_mistake_gets_its_own_hint_whatever_the_seeds(name, wrong, words, monkeypatch):
    verdict = exercises.check(name, wrong)
    assert verdict.status == "mistake" and words in verdict.message, verdict.message
    others = [hint for n, _, hint in MISTAKES if n == name and hint != words]
    assert not any(other in verdict.message for other in others)
    monkeypatch.setattr(exercises, "SEEDS", (5, 6))
    assert exercises.check(name, wrong) == verdict


def test_an_exception_is_one_line_naming_the_learners_line():
    def broken(a, b):
        width = a[:, 2] - a[:, 0]
        return torch.cat([width, b], dim=1)  # a (N,) and an (N, 4) tensor do not concatenate

    verdict = exercises.check("iou", broken)
    assert verdict.status == "error" and "IndexError" in verdict.message, verdict.message
    assert "line 3 of your function: return torch.cat([width, b], dim=1)" in verdict.message
    assert "\n" not in verdict.message


def test_other_wrong_answers_say_how_without_the_expected_values():
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b)[:-1])
    assert verdict.status == "wrong" and "returned shape (15,) where (16,) was expected" in verdict.message
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b) * 1.5)
    assert verdict.status == "wrong" and "values differ by up to" in verdict.message
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b).tolist())
    assert verdict.status == "wrong" and "returned a list, not a tensor" in verdict.message


def test_inputs_changed_in_place_do_not_change_the_reference():
    def in_place(a, b):
        a.mul_(0)  # spoils only its own copy: the reference still sees the original boxes
        return good_iou(a, b)

    assert exercises.check("iou", in_place).status in ("wrong", "mistake")
    assert exercises.check("iou", good_iou)


def test_unknown_exercise():
    with pytest.raises(ValueError, match="unknown exercise 'cam'"):
        exercises.check("cam", good_iou)
