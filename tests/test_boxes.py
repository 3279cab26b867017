import pytest
import torch
from torchvision import ops

from helpers.boxes import FORMATS, box_loss, check_boxes, convert, denormalize, giou, iou, normalize


def random_boxes(n, seed=0, size=64.0):
    generator = torch.Generator().manual_seed(seed)
    corners = torch.rand(n, 2, 2, generator=generator) * size
    return torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)


def test_conversions_by_hand():
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert convert(box, "xyxy", "xywh").tolist() == [[10, 20, 20, 40]]
    assert convert(box, "xyxy", "cxcywh").tolist() == [[20, 40, 20, 40]]
    assert convert(torch.tensor([[20.0, 40.0, 20.0, 40.0]]), "cxcywh", "xyxy").tolist() == box.tolist()


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_round_trips_keep_any_leading_shape(source, target):
    boxes = convert(random_boxes(24).view(2, 3, 4, 4), "xyxy", source)
    there = convert(boxes, source, target)
    assert there.shape == boxes.shape
    assert torch.allclose(convert(there, target, source), boxes, atol=1e-5)


def test_normalize_uses_width_for_x_and_height_for_y():
    boxes = torch.tensor([[16.0, 8.0, 32.0, 24.0]])
    assert normalize(boxes, (32, 64)).tolist() == [[0.25, 0.25, 0.5, 0.75]]
    assert torch.equal(denormalize(normalize(boxes, (32, 64)), (32, 64)), boxes)
    assert normalize(boxes, 64).tolist() == [[0.25, 0.125, 0.5, 0.375]]
    with pytest.raises(ValueError, match="image size must be positive"):
        normalize(boxes, (0, 64))


def test_iou_and_giou_by_hand():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 1.0]])
    # overlap 1 of union 7; identical boxes; disjoint boxes 1 apart, enclosed by a 3x1 box
    assert iou(a, b).tolist() == pytest.approx([1 / 7, 1.0, 0.0])
    assert giou(a, b).tolist() == pytest.approx([1 / 7 - (9 - 7) / 9, 1.0, 0.0 - (3 - 2) / 3])


def test_iou_and_giou_agree_with_torchvision():
    a, b = random_boxes(200, seed=1), random_boxes(200, seed=2)
    assert torch.allclose(iou(a, b), ops.box_iou(a, b).diagonal(), atol=1e-6)
    assert torch.allclose(giou(a, b), ops.generalized_box_iou(a, b).diagonal(), atol=1e-6)
    assert torch.allclose(1 - giou(a, b), ops.generalized_box_iou_loss(a, b), atol=1e-6)


def test_iou_is_symmetric_and_bounded():
    a, b = random_boxes(100, seed=3), random_boxes(100, seed=4)
    assert torch.allclose(iou(a, b), iou(b, a))
    assert ((iou(a, b) >= 0) & (iou(a, b) <= 1)).all()
    assert ((giou(a, b) >= -1) & (giou(a, b) <= iou(a, b) + 1e-6)).all()


@pytest.mark.parametrize(
    "boxes, error, match",
    [
        (torch.zeros(3, 5), ValueError, r"shape \(\.\.\., 4\)"),
        (torch.zeros(3), ValueError, r"shape \(\.\.\., 4\)"),
        (torch.tensor([[5.0, 0.0, 4.0, 1.0]]), ValueError, "x2 < x1"),
        (torch.tensor([[0.0, 5.0, 4.0, 1.0]]), ValueError, "y2 < y1"),
        (torch.tensor([[0.0, float("nan"), 4.0, 1.0]]), ValueError, "NaN"),
        (torch.tensor([[0.0, 0.0, float("inf"), 1.0]]), ValueError, "infinite"),
        (torch.zeros(2, 4, dtype=torch.long), TypeError, "floating-point"),
        ([[0.0, 0.0, 1.0, 1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_boxes(boxes, error, match):
    with pytest.raises(error, match=match):
        check_boxes(boxes)
    with pytest.raises(error, match=match):
        iou(boxes, boxes)


def test_negative_size_and_unknown_formats():
    with pytest.raises(ValueError, match="negative width or height"):
        convert(torch.tensor([[1.0, 1.0, -2.0, 3.0]]), "cxcywh", "xyxy")
    with pytest.raises(ValueError, match="unknown box format 'yxyx'"):
        convert(torch.zeros(1, 4), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="equal shapes"):
        iou(torch.zeros(2, 4), torch.zeros(3, 4))


def test_box_losses_by_hand():
    target = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    near = target + torch.tensor([[0.01, 0.0, 0.0, 0.0]])
    far = target + torch.tensor([[0.3, 0.0, 0.0, 0.0]])
    assert box_loss(near, target, "l2").item() == pytest.approx(1e-4, rel=1e-4)
    # smooth L1 with beta = 0.05: 0.5 x^2 / beta near the target (= 10 x^2), |x| - beta / 2 far away
    assert box_loss(near, target, "smooth_l1").item() == pytest.approx(10 * 1e-4, rel=1e-4)
    assert box_loss(far, target, "smooth_l1").item() == pytest.approx(0.3 - 0.025)
    assert box_loss(target, target, "giou").item() == pytest.approx(0.0, abs=1e-6)
    # shifted by a whole width: no overlap, enclosing box twice the union -> GIoU = -0.0 - 0 = 0 -> loss 1
    shifted = target + torch.tensor([[0.2, 0.0, 0.0, 0.0]])
    assert box_loss(shifted, target, "giou").item() == pytest.approx(1.0)
    assert box_loss(far, target, "giou").item() > box_loss(shifted, target, "giou").item()


def test_box_loss_bad_inputs():
    with pytest.raises(ValueError, match="unknown box loss 'l3'"):
        box_loss(torch.zeros(1, 4), torch.zeros(1, 4), "l3")
    with pytest.raises(ValueError, match="one shape"):
        box_loss(torch.zeros(2, 4), torch.zeros(1, 4))


def test_nearer_the_midpoint_by_hand():
    from helpers.boxes import nearer_the_midpoint

    pairs = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [40.0, 0.0, 50.0, 10.0]]]).expand(3, 2, 4)  # centres (5,5), (45,5)
    predicted = torch.tensor([[20.0, 0.0, 30.0, 10.0],   # centre (25, 5): the midpoint
                              [0.0, 0.0, 12.0, 10.0],    # centre (6, 5): on the first object
                              [30.0, 0.0, 40.0, 10.0]])  # centre (35, 5): 10 from the midpoint, 10 from the second
    assert nearer_the_midpoint(predicted, pairs) == pytest.approx(1 / 3)  # a tie is not "nearer"
    with pytest.raises(ValueError, match="pairs must have shape"):
        nearer_the_midpoint(predicted, pairs[:, 0])
