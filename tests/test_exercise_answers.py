"""helpers.exercises.answers (the training behind lesson 01's worked answers) and seeds.shift_evidence (lesson 04)."""

import pytest
import torch

from helpers import cam, checkpoints, metrics, seeds
from helpers.data import make_shapes
from helpers.exercises import answers
from helpers.train import predict_classes

TINY = {**answers.BOX_EXERCISE_RECIPE, "train_images": 64, "epochs": 1, "test_images": 40, "pairs_images": 30}


def test_size_halves_by_hand():
    truth = torch.tensor([[0.0, 0, 10, 10], [0, 0, 20, 20], [0, 0, 30, 30], [0, 0, 40, 40]])
    predicted = truth + torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0], [2, 2, 2, 2], [0, 0, 0, 0]])
    halves = answers.size_halves(predicted, truth)
    # the two smaller boxes (areas 100, 400; median 400 goes to the smaller half): IoU 81/119 and 1; errors 1 and 0 px
    assert halves["small half: mean IoU"] == pytest.approx((81 / 119 + 1) / 2)
    assert halves["small half: corner error (px)"] == pytest.approx(0.5)
    assert halves["large half: mean IoU"] == pytest.approx((784 / 1016 + 1) / 2)
    assert halves["large half: corner error (px)"] == pytest.approx(1.0)


def test_first_object_keeps_the_first_of_each_pair():
    pairs = make_shapes(5, objects=2, seed=0)
    first = answers.first_object(pairs)
    assert torch.equal(first.images, pairs.images) and torch.equal(first.labels, pairs.labels[:, 0])
    assert torch.equal(first.boxes, pairs.boxes[:, 0]) and torch.equal(first.masks, pairs.masks[:, 0])


def test_every_setting_trains_the_same_network_for_the_same_seed():
    for setting in ("L2 on the corners, lambda 10", "GIoU, lambda 2, trained on pairs"):
        a, b = (answers.train_box_setting(setting, 0, TINY) for _ in range(2))
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
        scores = answers.box_exercise_scores(a, TINY)
        assert 0 <= scores["pairs: accuracy on the first object's class"] <= 1
        assert 0 <= scores["pairs: mean IoU with the second object"] <= 1 and scores["pairs: mean box area (px)"] > 0
    other = answers.train_box_setting("GIoU, lambda 2, trained on pairs", 1, TINY)
    assert not torch.equal(other.box.weight, a.box.weight)


def test_the_stored_exercise_results_cover_the_recipes():
    recipe, results = seeds.load("box_exercises")
    assert recipe == answers.BOX_EXERCISE_RECIPE and sorted(results) == [str(s) for s in recipe["seeds"]]
    assert all(list(per_seed) == list(recipe["settings"]) for per_seed in results.values())
    recipe, results = seeds.load("head_exercises")
    assert recipe == answers.HEAD_EXERCISE_RECIPE and sorted(results) == [str(s) for s in recipe["seeds"]]
    for per_seed in results.values():
        assert list(per_seed["images"]) == [str(n) for n in recipe["sizes"]]
        assert per_seed["class maps"]["NiN: smallest value"] >= 0
        assert all(0 <= accuracy <= 1 for accuracy in per_seed["anywhere"].values())
    recipe, results = seeds.load("augmented_exercises")
    assert recipe == answers.AUGMENTED_EXERCISE_RECIPE and sorted(results) == [str(s) for s in recipe["seeds"]]
    for per_seed in results.values():
        assert list(per_seed) == recipe["settings"]
        assert all(0 < rows["unexplained"] < 1 and 0 <= rows["augmented"]["PxAP"] <= 1 for rows in per_seed.values())
    recipe, results = seeds.load("flatten_shift")
    assert recipe == seeds.FLATTEN_SHIFT_RECIPE and sorted(results) == [str(s) for s in recipe["seeds"]]
    for per_seed in results.values():
        assert list(per_seed) == [str(s) for s in recipe["shifts"]]
        assert all(0 <= row["accuracy"] <= 1 and 0 <= row["C: share in the box"] <= 1 for row in per_seed.values())


def test_shift_evidence_on_a_gap_network_is_cam_divided_by_the_cells():
    # On a GAP + linear network the gradient is w_c / Z at every cell: C is CAM / Z, Grad-CAM is ReLU(CAM) / Z.
    net = checkpoints.load_shapes_gap("cpu")
    shapes = make_shapes(60, placement="centred", rotation=(0.0, 0.0), shift=12, seed=3)
    row, maps = seeds.shift_evidence(net, shapes, layer="backbone")
    class_maps = cam.cam(net, shapes.images, shapes.labels).maps / (16 * 16)
    assert torch.allclose(maps["C"], cam.upsample(class_maps, 64)[:, 0], atol=1e-6)
    assert torch.allclose(maps["Grad-CAM"], cam.upsample(class_maps.clamp(min=0), 64)[:, 0], atol=1e-6)
    predicted = predict_classes(net, shapes.images)
    assert row["accuracy"] == pytest.approx((predicted == shapes.labels).float().mean().item())
    assert row["misclassified"] == int((predicted != shapes.labels).sum())
    assert row["C: share in the box"] == pytest.approx(metrics.share_in_boxes(maps["C"], shapes.boxes).mean().item())
    assert row["Grad-CAM: pointing game"] == metrics.pointing_game(maps["Grad-CAM"], shapes.boxes)
    assert ("predicted class's C: pointing game" in row) == (row["misclassified"] > 0)


def test_epochs_for_keeps_the_steps_and_shifted_right_repeats_the_edge():
    assert [answers.epochs_for(n) for n in (100, 300, 1000, 3000)] == [100, 40, 12, 4]  # 4, 10, 32, 94 steps an epoch
    assert answers.epochs_for(100_000) == 1
    image = torch.arange(12.0).view(1, 1, 3, 4)
    moved = answers.shifted_right(image, 2)
    assert torch.equal(moved[..., 2:], image[..., :2]) and torch.equal(moved[..., :2], image[..., :1].expand(-1, -1, -1, 2))
    assert torch.equal(answers.shifted_right(image, 0), image)


def test_solve_counting_restores_the_inside_threshold_and_counts_more_cells_at_zero():
    from helpers import augmented

    warps = augmented.sample_augmentations(4, seed=0)
    views = torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    before = augmented.INSIDE
    lesson = answers.solve_counting(views, warps, 32, before, resolution=16, iterations=5)
    every = answers.solve_counting(views, warps, 32, 0.0, resolution=16, iterations=5)
    assert augmented.INSIDE == before
    assert lesson[0].shape == every[0].shape == (2, 32, 32) and not torch.equal(lesson[1], every[1])
    with pytest.raises(ValueError):
        answers.solve_counting(views, warps, 32, 0.0, resolution=64)  # finer than the image: refused
    assert augmented.INSIDE == before  # restored after an error too


def test_head_exercise_runs_cover_every_exercise_on_a_tiny_recipe():
    tiny = {**answers.HEAD_EXERCISE_RECIPE, "sizes": [40, 80], "train_images": 80, "few_images": 40, "steps": 4,
            "test_images": 50, "probe_images": 30, "pixel_images": 10, "angle_images": 30}
    runs = answers.head_exercise_runs(0, tiny)
    assert list(runs) == ["images", "same epochs", "anywhere", "max pooling", "pixels", "angles", "class maps"]
    assert list(runs["images"]) == [40, 80] and len(runs["anywhere"]) == 3
    assert all(0 <= p <= 1 for kind in runs["pixels"].values() for p in kind["first image"])
    assert runs["class maps"]["NiN: smallest value"] >= 0  # a ReLU makes every NiN class map
    assert len(runs["class maps"]["CAM: maps shown"]) == tiny["map_images"]
