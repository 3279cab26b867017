"""Boxes from heat-maps and the weakly supervised localization metrics, on hand-made maps with known answers."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers.boxes import box_from_heatmap, connected_components
from helpers.metrics import (
    box_scores,
    centre_baseline,
    localization_row,
    normalize_maps,
    paired_bootstrap,
    pointing_game,
    pointing_hits,
    pxap,
)


def two_blobs():
    maps = torch.zeros(1, 8, 10)
    maps[0, 1:3, 1:4] = 1.0  # 6 pixels, the highest values
    maps[0, 5:8, 5:9] = 0.5  # 12 pixels
    return maps


def test_largest_component_wins_not_the_highest():
    assert box_from_heatmap(two_blobs(), 0.2).tolist() == [[5.0, 5.0, 9.0, 8.0]]
    assert box_from_heatmap(two_blobs(), 0.6).tolist() == [[1.0, 1.0, 4.0, 3.0]]  # the weaker blob is cut


def test_empty_and_constant_maps():
    assert box_from_heatmap(torch.zeros(2, 5, 6)).tolist() == [[0.0] * 4] * 2  # no evidence: empty box
    assert box_from_heatmap(-torch.ones(1, 5, 6)).tolist() == [[0.0] * 4]
    assert box_from_heatmap(torch.full((1, 5, 6), 3.0)).tolist() == [[0.0, 0.0, 6.0, 5.0]]  # all kept


def test_diagonal_pixels_are_connected_and_batches_keep_their_shape():
    maps = torch.zeros(2, 3, 5, 5)
    maps[1, 2, 0, 0] = maps[1, 2, 1, 1] = maps[1, 2, 2, 2] = 1.0  # a diagonal line: one 8-connected component
    maps[1, 2, 4, 0] = 1.0
    boxes = box_from_heatmap(maps)
    assert boxes.shape == (2, 3, 4)
    assert boxes[1, 2].tolist() == [0.0, 0.0, 3.0, 3.0]
    assert boxes[0].abs().sum() == 0


def test_components_of_a_batch_do_not_touch():
    kept = torch.zeros(2, 4, 4, dtype=torch.bool)
    kept[0, 3, :] = True
    kept[1, 0, :] = True  # would touch image 0's bottom row if the batch were one volume
    parts = connected_components(kept)
    assert parts.image.tolist() == [0, 1] and parts.sizes.tolist() == [4, 4]
    assert parts.boxes.tolist() == [[0.0, 3.0, 4.0, 4.0], [0.0, 0.0, 4.0, 1.0]]


@pytest.mark.parametrize("maps, tau, match", [
    (torch.zeros(5), 0.2, "shape \\(..., H, W\\)"),
    (torch.zeros(1, 4, 4, dtype=torch.long), 0.2, "floating-point"),
    (torch.zeros(1, 4, 4), 1.5, "tau must be in"),
    (torch.full((1, 4, 4), float("nan")), 0.2, "NaN"),
])
def test_bad_maps(maps, tau, match):
    with pytest.raises(ValueError, match=match):
        box_from_heatmap(maps, tau)


def test_normalize_maps():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]])
    assert normalize_maps(maps).tolist() == [[[0.0, 0.5], [0.25, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]


def test_box_scores_on_a_map_shaped_like_the_box():
    maps = torch.zeros(2, 10, 10)
    maps[0, 2:6, 3:8] = 1.0  # exactly the box
    maps[1, 2:6, 3:8] = torch.linspace(0.2, 1.0, 5)  # a ramp over the box: high taus cut its left side
    boxes = torch.tensor([[3.0, 2.0, 8.0, 6.0]] * 2)
    scores = box_scores(maps, boxes, taus=(0.0, 0.5, 0.9), progress=False)
    # tau 0 keeps the whole image (IoU 20 / 100); 0.5 on image 1 keeps columns 5-7 of the box (IoU 12 / 20)
    assert torch.allclose(scores.largest, torch.tensor([[0.2, 0.2], [1.0, 0.6], [1.0, 0.2]]))
    assert scores.box_accuracy(0.5).tolist() == [0.0, 1.0, 0.5]
    assert scores.max_box_acc() == 1.0
    assert scores.max_box_acc_v2() == pytest.approx((1.0 + 1.0 + 0.5) / 3)


def test_v2_uses_every_component_and_every_ground_truth_box():
    maps = two_blobs().expand(2, -1, -1).clone()
    small_blob = torch.tensor([1.0, 1.0, 4.0, 3.0])
    boxes = torch.stack([small_blob, torch.tensor([0.0, 0.0, 1.0, 1.0])]).expand(2, 2, 4).clone()
    scores = box_scores(maps, boxes, taus=(0.2,), progress=False)
    assert scores.largest.tolist() == [[0.0, 0.0]]  # the largest component is the other blob
    assert scores.best.tolist() == [[1.0, 1.0]]  # the small blob matches the first ground-truth box
    with pytest.raises(ValueError, match="boxes must have shape"):
        box_scores(maps, boxes[:1], progress=False)
    with pytest.raises(ValueError, match="every tau must be in"):
        box_scores(maps, boxes, taus=(0.5, 1.2), progress=False)


def test_pxap_perfect_random_and_inverted():
    masks = torch.zeros(4, 8, 8, dtype=torch.bool)
    masks[:, 2:5, 3:7] = True
    perfect = masks.float() + 0.01 * torch.rand(4, 8, 8)
    assert pxap(perfect, masks) == pytest.approx(1.0)
    constant = torch.ones(4, 8, 8)  # normalised to zeros: every pixel at the lowest threshold
    assert pxap(constant, masks) == pytest.approx(masks.float().mean().item())  # precision = share of object pixels
    assert pxap(1 - masks.float(), masks) == pytest.approx(masks.float().mean().item())
    with pytest.raises(ValueError, match="no object pixel"):
        pxap(perfect, torch.zeros_like(masks))


def test_pxap_hand_computed():
    # one image of 4 pixels; two are the object; scores 1.0 (object), 0.6 (background), 0.3 (object), 0.0 (background)
    maps = torch.tensor([[[1.0, 0.6], [0.3, 0.0]]])
    masks = torch.tensor([[[True, False], [True, False]]])
    # from the top: tau 1.0 keeps 1 pixel, P 1, R 0.5; down to 0.6: P 1/2, R 0.5; down to 0.3: P 2/3, R 1
    assert pxap(maps, masks) == pytest.approx(1.0 * 0.5 + 0.5 * 0.0 + (2 / 3) * 0.5)


def test_localization_row_agrees_with_each_metric():
    maps = torch.zeros(2, 10, 10)
    maps[0, 2:6, 3:8] = 1.0  # exactly the box
    maps[1, 2:6, 3:8] = torch.linspace(0.2, 1.0, 5)  # a ramp: taus above 0.4 cut the box's left side
    boxes = torch.tensor([[3.0, 2.0, 8.0, 6.0]] * 2)
    masks = torch.zeros(2, 10, 10, dtype=torch.bool)
    masks[:, 2:6, 3:8] = True
    row, scores = localization_row(maps, boxes, masks, tau=0.9, progress=False)
    assert list(row) == ["MaxBoxAcc", "best tau", "BoxAcc at tau 0.9", "MaxBoxAccV2", "PxAP", "pointing game"]
    assert row["MaxBoxAcc"] == 1.0 and row["best tau"] == pytest.approx(0.01)  # tau 0 keeps the whole image
    assert row["BoxAcc at tau 0.9"] == 0.5  # on the ramp only the last column is kept: IoU 4 / 20
    assert row["BoxAcc at tau 0.9"] == scores.box_accuracy()[90].item()
    assert row["PxAP"] == pxap(maps, masks) == pytest.approx(1.0)
    assert row["pointing game"] == pointing_game(maps, boxes) == 1.0
    assert "BoxAcc at tau 0.9" not in localization_row(maps, boxes, masks, progress=False)[0]
    with pytest.raises(ValueError, match="swept thresholds"):
        localization_row(maps, boxes, masks, tau=0.155)


def test_pointing_game():
    maps = torch.zeros(3, 10, 10)
    maps[0, 4, 4] = 1.0  # inside
    maps[1, 0, 9] = 1.0  # far outside
    maps[2, 4, 7] = 1.0  # pixel centre 7.5: 0.5 px right of the box edge at 7
    boxes = torch.tensor([[3.0, 3.0, 7.0, 7.0]] * 3)
    assert pointing_game(maps, boxes) == pytest.approx(1 / 3)
    assert pointing_game(maps, boxes, tolerance=0.5) == pytest.approx(2 / 3)
    two = torch.stack([boxes, torch.tensor([[8.0, 0.0, 10.0, 2.0]] * 3)], dim=1)
    assert pointing_game(maps, two) == pytest.approx(2 / 3)
    assert pointing_hits(maps, boxes).tolist() == [True, False, False]
    assert pointing_hits(maps, two).tolist() == [True, True, False]


def test_the_paired_bootstrap_interval_holds_the_difference_of_means():
    same = torch.tensor([0.3, 0.3, 0.3])
    assert paired_bootstrap(same + 0.2, same) == pytest.approx((0.2, 0.2, 0.2))  # a constant difference
    generator = torch.Generator().manual_seed(1)
    shared = torch.rand(400, generator=generator)  # what the images share: cancels when paired
    noise = 0.01 * torch.randn(400, generator=generator)
    difference, low, high = paired_bootstrap(shared + 0.05 + noise, shared)
    assert low < 0.05 < high and difference == pytest.approx(0.05 + noise.mean().item(), abs=1e-6)
    # the interval is about +-1.96 standard errors of the mean difference (0.01 / 20): far narrower than unpaired
    assert (high - low) == pytest.approx(2 * 1.96 * 0.01 / 20, rel=0.15)
    mean, low, high = paired_bootstrap(torch.tensor([1.0, 0.0, 1.0, 1.0]), level=0.5, seed=3)
    assert mean == 0.75 and 0.5 <= low <= 0.75 <= high <= 1.0
    assert paired_bootstrap(torch.tensor([1.0, 0.0]), seed=3) == paired_bootstrap(torch.tensor([1.0, 0.0]), seed=3)
    with pytest.raises(ValueError, match="same non-empty"):
        paired_bootstrap(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="level must be"):
        paired_bootstrap(torch.ones(3), level=1.0)


def test_centre_baseline_peaks_in_the_middle():
    maps = centre_baseline(2, 8)
    assert maps.shape == (2, 8, 8)
    assert maps[0, 3:5, 3:5].min() == maps.max() and torch.allclose(maps, maps.flip(-1).flip(-2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_boxes_and_scores_of_gpu_maps_match_the_cpu():
    generator = torch.Generator().manual_seed(0)
    maps = torch.nn.functional.interpolate(torch.rand(50, 1, 8, 8, generator=generator), size=32, mode="bilinear")[:, 0]
    truth = torch.tensor([[4.0, 4.0, 20.0, 20.0]]).expand(50, 4)
    on_gpu = box_from_heatmap(maps.cuda(), 0.5)
    assert on_gpu.is_cuda and torch.equal(on_gpu.cpu(), box_from_heatmap(maps, 0.5))
    gpu_scores = box_scores(maps.cuda(), truth.cuda(), progress=False)
    cpu_scores = box_scores(maps, truth, progress=False)
    assert torch.allclose(gpu_scores.largest.cpu(), cpu_scores.largest) and torch.allclose(gpu_scores.best.cpu(),
                                                                                           cpu_scores.best)
    masks = maps > 0.5
    assert pxap(maps.cuda(), masks.cuda()) == pytest.approx(pxap(maps, masks), abs=1e-6)
    assert pointing_game(maps.cuda(), truth.cuda()) == pointing_game(maps, truth)


def test_share_in_boxes_by_hand():
    from helpers.metrics import share_in_boxes

    maps = torch.zeros(3, 4, 4)
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # 3 of 4 inside the top-left 2 x 2 box
    maps[1, 1, 1], maps[1, 2, 2] = -5.0, 2.0  # negative mass does not count: all positive mass outside
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0]])  # map 2: all zero
    assert torch.allclose(share_in_boxes(maps, boxes), torch.tensor([0.75, 0.0, 0.0]))
    two = torch.tensor([[[0.0, 0.0, 1.0, 1.0], [3.0, 3.0, 4.0, 4.0]]]).expand(3, 2, 4)  # either box counts
    assert torch.allclose(share_in_boxes(maps, two)[0], torch.tensor(1.0))
    with pytest.raises(ValueError):
        share_in_boxes(maps[0], boxes)


def test_held_out_threshold_is_chosen_on_one_part_and_scored_on_the_other():
    from helpers.metrics import BoxScores

    taus = torch.tensor([0.1, 0.5, 0.9])
    largest = torch.tensor([[0.9, 0.9, 0.1, 0.1],   # tau 0.1: right on images 0, 1
                            [0.6, 0.0, 0.6, 0.6],   # tau 0.5: right on 0, 2, 3
                            [0.0, 0.0, 0.0, 0.9]])  # tau 0.9: right on 3
    scores = BoxScores(taus, largest, largest)
    assert scores.max_box_acc() == 0.75  # the oracle: tau 0.5 on all four
    tau, accuracy = scores.held_out(torch.tensor([True, True, False, False]))  # tau 0.1 wins on images 0, 1 (2 of 2)
    assert tau == pytest.approx(0.1) and accuracy == 0.0  # ... and is wrong on images 2, 3
    tau, accuracy = scores.held_out(torch.tensor([False, False, True, True]))
    assert tau == pytest.approx(0.5) and accuracy == 0.5
    with pytest.raises(ValueError, match="both parts"):
        scores.held_out(torch.ones(4, dtype=torch.bool))


def _scipy_components(kept):
    """The reference: scipy's 8-connected labelling of each mask, components in raster order of their first pixel."""
    image, boxes, sizes = [], [], []
    for index, mask in enumerate(kept.numpy()):
        labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
        for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            image.append(index)
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            sizes.append(int((labels == label).sum()))
    return image, boxes, sizes


@pytest.mark.parametrize("shape, keep", [((50, 64, 64), 0.45), ((3, 224, 224), 0.5), ((7, 1, 9), 0.5),
                                         ((4, 13, 1), 0.5), ((2, 5, 5), 0.0), ((2, 5, 5), 1.0), ((0, 5, 5), 0.5)])
def test_components_match_scipy_in_order_boxes_and_sizes(shape, keep):
    """Order matters: MaxBoxAcc keeps the *first* of equally large components, so it must be raster order."""
    generator = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(shape[0], 1, 6, 6, generator=generator), size=shape[1:],
                                             mode="bilinear")[:, 0]
    kept = (smooth + 0.3 * torch.rand(shape, generator=generator)) < 1.3 * keep  # blobs with ragged edges
    parts = connected_components(kept)
    image, boxes, sizes = _scipy_components(kept)
    assert parts.image.tolist() == image
    assert parts.boxes.tolist() == boxes
    assert parts.sizes.tolist() == sizes


def test_equally_large_components_keep_raster_order():
    kept = torch.zeros(1, 6, 8, dtype=torch.bool)
    kept[0, 1:3, 5:7] = True  # starts first in raster order (row 1)...
    kept[0, 2:4, 0:2] = True  # ...although this one lies further left
    parts = connected_components(kept)
    assert parts.boxes.tolist() == [[5.0, 1.0, 7.0, 3.0], [0.0, 2.0, 2.0, 4.0]]
    assert box_from_heatmap(kept.float()).tolist() == [[5.0, 1.0, 7.0, 3.0]]
