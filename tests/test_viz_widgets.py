"""The figures and the widget's redraw function, called without a browser."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.augmented import forward_operator, sample_augmentations, super_resolve
from helpers.boxes import box_from_heatmap, iou
from helpers.cam import upsample
from helpers.checkpoints import load_shapes_gap, shapes_gap_test_set
from helpers.data import SHAPE_CLASSES, Normalization, make_shapes
from helpers.device import set_seed
from helpers.gradcam import grad_cam
from helpers.models import FlattenNet, GapNet
from helpers.rise import rise
from helpers.viz import (
    as_jpeg,
    colourize,
    draw_box,
    format_table,
    overlay,
    plot_curves,
    plot_training,
    rank_rows,
    show_class_maps,
    show_heatmaps,
    show_shapes,
    to_image,
)
from helpers.widgets import (
    augmented_browser,
    cam_browser,
    comparison_browser,
    controls,
    convergence_browser,
    draw_augmented_frame,
    draw_browser_frame,
    draw_cam_frame,
    draw_comparison_frame,
    draw_gradcam_frame,
    draw_map_frame,
    draw_prediction_frame,
    draw_rise_frame,
    draw_shift_frame,
    gradcam_browser,
    gradcam_guesses,
    prediction_browser,
    rise_browser,
    sample_browser,
    shift_browser,
    shifted_shape,
)


def rendered(fig):
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return pixels


def test_to_image_undoes_the_normalization():
    x = torch.rand(3, 5, 7)
    norm = Normalization((0.5,) * 3, (0.5,) * 3)
    assert np.allclose(to_image(norm.apply(x[None])[0], norm), x.permute(1, 2, 0).numpy(), atol=1e-6)


def test_draw_box_uses_pixel_edges():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    draw_box(ax, torch.tensor([2.0, 3.0, 5.0, 7.0]))
    rect = ax.patches[0]
    assert rect.get_xy() == (1.5, 2.5) and rect.get_width() == 3 and rect.get_height() == 4
    plt.close(fig)


def test_browser_frame_changes_with_the_slider_value():
    shapes = make_shapes(4, seed=0)
    first, again, other = (rendered(draw_browser_frame(shapes, i)) for i in (0, 0, 1))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, rendered(draw_browser_frame(shapes, 0, show_mask=False)))


def test_sample_browser_builds_a_slider_over_all_images():
    shapes = make_shapes(7, seed=0)
    box = sample_browser(shapes)
    slider = box.children[0].children[0]
    assert (slider.min, slider.max, slider.value) == (0, 6, 0)


def test_show_shapes_grid_for_two_objects():
    fig = show_shapes(make_shapes(6, objects=2, seed=0), count=6, cols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6 and all(" + " in t for t in titles)
    plt.close(fig)


def test_colourize_reads_the_colour_maps_table_as_imshow_does():
    values = torch.tensor([[0.0, 0.3, 0.5], [0.999, 1.0, float("nan")]])
    expected = plt.get_cmap("viridis")(np.array([[0.0, 0.3, 0.5], [0.999, 1.0, 0.0]]))[..., :3]
    assert np.allclose(colourize(values, "viridis").numpy(), expected, atol=1e-6)
    assert colourize(torch.zeros(4, 5)).shape == (4, 5, 3)


def test_overlay_blends_the_rescaled_map_over_the_image():
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    heatmap = torch.arange(64.0).view(8, 8) * 3 - 10  # rescaled to 0 ... 1 along the rows
    colours = colourize((heatmap + 10) / 189).numpy()
    assert np.allclose(overlay(image, heatmap, alpha=0.0), to_image(image), atol=1e-6)
    assert np.allclose(overlay(image, heatmap, alpha=1.0), colours, atol=1e-6)
    assert np.allclose(overlay(image, heatmap, alpha=0.25), 0.75 * to_image(image) + 0.25 * colours, atol=1e-6)
    assert np.allclose(overlay(image, torch.full((8, 8), 5.0), alpha=1.0), colourize(torch.zeros(8, 8)).numpy())
    coarse = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # a grid map is resized to the image first
    resized = torch.nn.functional.interpolate(coarse[None, None], size=(8, 8), mode="bilinear")[0, 0]
    assert np.allclose(overlay(image, coarse, alpha=1.0), colourize(resized / 3).numpy(), atol=1e-6)


def test_as_jpeg_closes_the_figure_and_returns_jpeg_bytes():
    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).random((20, 20)))
    image = as_jpeg(fig)
    assert image.data[:3] == b"\xff\xd8\xff"  # JPEG magic number
    assert not plt.fignum_exists(fig.number)


def test_as_jpeg_is_the_picture_savefig_makes():
    from io import BytesIO

    from PIL import Image

    shapes = make_shapes(1, seed=3)
    fig, _ = draw_map_frame(shapes.images[0], shapes.masks[0].float(), 0.5, "a map", shapes.boxes[0])
    for _ in range(3):  # constrained layout settles over a few drawings; savefig draws twice
        fig.canvas.draw()
    saved = BytesIO()
    fig.savefig(saved, format="jpeg", pil_kwargs={"quality": 85})
    fast, slow = (np.asarray(Image.open(BytesIO(data)).convert("RGB"), dtype=float)
                  for data in (as_jpeg(fig).data, saved.getvalue()))
    assert fast.shape == slow.shape == (560, 1100, 3)  # 11 x 5.6 inches at 100 dpi
    assert np.abs(fast - slow).max() <= 2  # the same picture, up to rounding


def test_prediction_frame_follows_slider_and_variant():
    shapes = make_shapes(3, seed=0)
    ious = torch.tensor([0.9, 0.2, 0.6])
    predictions = {"good": (shapes.labels, shapes.boxes, torch.ones(3)),
                   "shifted": (shapes.labels, (shapes.boxes + 5).clamp(0, 64), ious)}
    frames = [rendered(draw_prediction_frame(shapes, predictions, v, i)) for v, i in
              [("good", 0), ("good", 1), ("shifted", 0)]]
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[0], frames[2])
    fig = draw_prediction_frame(shapes, predictions, "shifted", 1)
    assert "wrong" in fig.axes[0].get_title() and "IoU 0.20" in fig.axes[0].get_title()
    plt.close(fig)
    box = prediction_browser(shapes, predictions)
    assert box.children[0].max == 2 and box.children[1].options == ("good", "shifted")


def test_format_table_aligns_and_rounds():
    text = format_table([{"loss": "l2", "accuracy": 0.93512}, {"loss": "giou", "accuracy": 0.8}])
    assert text.splitlines() == ["loss  accuracy", "----  --------", "l2    0.935", "giou  0.800"]


def test_plot_training_draws_one_line_per_curve():
    history = {"train ce": [1.0, 0.5, 0.2], "train box": [0.1, 0.05, 0.02], "test accuracy": [0.3, 0.6, 0.9]}
    fig = plot_training(history, {"ce": "train ce", "box": "train box"}, {"accuracy": "test accuracy"})
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["ce", "box"]
    assert list(right.lines[0].get_ydata()) == [0.3, 0.6, 0.9] and left.get_yscale() == "log"
    plt.close(fig)


def test_shifted_shape_keeps_the_object_size_on_larger_canvases():
    small, large = shifted_shape(10, 64, index=3), shifted_shape(30, 128, index=3)
    assert small.images.shape[-1] == 64 and large.images.shape[-1] == 128
    assert small.labels.item() == large.labels.item()
    assert abs(int(small.masks.sum()) - int(large.masks.sum())) <= 0.15 * int(small.masks.sum())
    centre = ((large.boxes[0, :2] + large.boxes[0, 2:]) / 2 - 64).norm()
    assert 20 < centre < 40  # about 30 px off centre (the box centre of a non-symmetric shape moves a little)


def _two_models():
    set_seed(0)
    return {"flatten": FlattenNet(6, size=64, width=2), "GAP": GapNet(6, width=2)}


def test_shift_frame_shows_each_models_probabilities():
    classifiers = _two_models()
    fig = draw_shift_frame(classifiers, shift=4, size=64, index=1)
    image = shifted_shape(4, 64, index=1).images
    for ax, model in zip(fig.axes[1:], classifiers.values()):
        with torch.no_grad():
            expected = model(image).softmax(dim=1)[0]
        widths = torch.tensor([bar.get_width() for bar in ax.patches], dtype=torch.float32)
        assert torch.allclose(widths, expected, atol=1e-6)
    plt.close(fig)
    assert not np.array_equal(rendered(draw_shift_frame(classifiers, 0)), rendered(draw_shift_frame(classifiers, 8)))


def test_shift_frame_explains_a_model_that_cannot_take_the_size():
    fig = draw_shift_frame(_two_models(), shift=20, size=96)
    flatten_panel, gap_panel = fig.axes[1], fig.axes[2]
    assert "flatten cannot run on\n96 x 96" in flatten_panel.texts[0].get_text()
    assert len(flatten_panel.patches) == 0 and len(gap_panel.patches) == 6
    plt.close(fig)


def test_shift_browser_range_follows_the_canvas():
    box = shift_browser(_two_models())
    shift, (size, index) = box.children[0], box.children[1].children
    assert (shift.max, size.options, index.max) == (17, (64, 96, 128), 49)
    size.value = 128
    assert shift.max == 49
    shift.value = 40
    size.value = 64
    assert shift.max == 17 and shift.value == 17


def test_plot_curves_draws_one_line_per_entry_and_chance():
    ax = plot_curves([0, 4, 8], {"a": [1.0, 0.5, 0.2], "b": [1.0, 1.0, 0.9]}, "shift", chance=1 / 6, title="t")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "chance"]
    assert list(lines[0].get_ydata()) == [1.0, 0.5, 0.2] and lines[2].get_ydata()[0] == 1 / 6
    plt.close(ax.figure)


def _cam_inputs():
    shapes = make_shapes(3, seed=0)
    maps = torch.zeros(3, 6, 64, 64)
    for i in range(3):  # the true class's map is the object's mask; another class's map is a corner
        maps[i, shapes.labels[i]] = shapes.masks[i].float()
        maps[i, (shapes.labels[i] + 1) % 6, :8, :8] = 1.0
    return shapes, maps, shapes.labels.clone()


def test_cam_frame_box_and_iou_follow_the_class_and_threshold():
    shapes, maps, predicted = _cam_inputs()
    fig = draw_cam_frame(shapes, maps, predicted, 1, -1, 0.2)
    assert "IoU 1.00" in fig.axes[0].get_title()  # the mask's box is the true box
    plt.close(fig)
    other = int((shapes.labels[1] + 1) % 6)
    fig = draw_cam_frame(shapes, maps, predicted, 1, other, 0.2)
    assert "IoU 1.00" not in fig.axes[0].get_title()
    plt.close(fig)
    first, again, moved = (rendered(draw_cam_frame(shapes, maps, predicted, i, -1, t)) for i, t in
                           ((0, 0.2), (0, 0.2), (2, 0.2)))
    assert np.array_equal(first, again) and not np.array_equal(first, moved)


def test_cam_browsercontrols():
    shapes, maps, predicted = _cam_inputs()
    box = cam_browser(shapes, maps, predicted)
    index, (target, tau, alpha) = box.children[0], box.children[1].children
    assert (index.max, target.value, tau.value, alpha.value) == (2, -1, 0.2, 0.5)
    assert [label for label, _ in target.options][:2] == ["predicted", "circle"]


def test_gradcam_frame_draws_the_map_of_the_chosen_guess_layer_and_sign():
    model, shapes = load_shapes_gap(), shapes_gap_test_set()
    images, true_boxes = shapes.images[:4], shapes.boxes[:4]
    probabilities = model(images[2:3]).softmax(dim=1)[0]
    for rank, layer, counterfactual in ((0, "backbone", False), (1, "backbone.12", False), (0, "backbone", True)):
        target = probabilities.argsort(descending=True)[rank].view(1, 1)
        expected = upsample(grad_cam(model, images[2:3], target, layer, counterfactual).maps, 64)[0, 0]
        overlap = float(iou(box_from_heatmap(expected[None], 0.3)[0], true_boxes[2]))
        fig = draw_gradcam_frame(model, images, 2, layer, rank, 0.3, counterfactual, true_boxes=true_boxes)
        title = fig.axes[0].get_title()
        plt.close(fig)
        assert SHAPE_CLASSES[int(target)] in title and f"at {layer}" in title and f"IoU {overlap:.2f}" in title
        assert ("counterfactual" in title) == counterfactual
    first, again, moved = (rendered(draw_gradcam_frame(model, images, i, "backbone", 0, 0.15)) for i in (0, 0, 1))
    assert np.array_equal(first, again) and not np.array_equal(first, moved)


def test_map_frame_of_a_zero_map_says_so():
    shapes = make_shapes(1, seed=0)
    fig, overlap = draw_map_frame(shapes.images[0], torch.zeros(64, 64), 0.15, "zero", shapes.boxes[0],
                                  grid=torch.zeros(8, 8))
    assert fig.axes[1].get_title() == "the map is zero everywhere: no box" and overlap == 0.0
    assert fig.axes[0].get_title() == "zero, IoU 0.00"
    plt.close(fig)


def test_gradcam_browsercontrols():
    model, shapes = load_shapes_gap(), shapes_gap_test_set()
    box = gradcam_browser(model, shapes.images[:3], ["backbone.5", "backbone.19"], true_boxes=shapes.boxes[:3])
    (index, layer), (rank, tau, counterfactual) = (row.children for row in box.children[:2])
    assert (index.max, layer.value, rank.value, tau.value, counterfactual.value) == (2, "backbone.19", 0, 0.15, False)
    assert [label for label, _ in rank.options] == ["1st guess", "2nd guess", "3rd guess", "4th guess", "5th guess"]


def _augmented_inputs():
    shapes = make_shapes(1, seed=0)
    warps = sample_augmentations(6, seed=0)
    views = forward_operator(shapes.masks.float(), warps, (16, 16))  # the views of a perfect map
    return shapes, warps, views


def test_augmented_frame_solves_with_the_first_views_and_the_chosen_weight():
    shapes, warps, views = _augmented_inputs()
    fig = draw_augmented_frame(shapes.images[0], views, warps, 3, 0.01, 50, 0.5, shapes.boxes[0])
    title = fig.axes[0].get_title()
    plt.close(fig)
    first = type(warps)(*(field[:3] for field in warps))
    expected, _, _ = super_resolve(views[:, :3], first, 64, lam=0.01, iterations=50, progress=False)
    overlap = float(iou(box_from_heatmap(expected, 0.5)[0], shapes.boxes[0]))
    assert "L = 3, lambda = 0.01" in title and f"IoU {overlap:.2f}" in title and overlap > 0.7
    first, again, more = (rendered(draw_augmented_frame(shapes.images[0], views, warps, n, 0.01, 20)) for n in (2, 2, 6))
    assert np.array_equal(first, again) and not np.array_equal(first, more)


def test_augmented_browsercontrols():
    shapes, warps, views = _augmented_inputs()
    box = augmented_browser(shapes.images[0], views, warps, shapes.boxes[0])
    (count, lam), (iterations, tau) = (row.children for row in box.children[:2])
    assert (count.max, count.value, iterations.value, tau.value) == (6, 6, 100, 0.15)
    assert abs(lam.value - 0.012) < 1e-9
    with pytest.raises(ValueError, match="one image"):
        augmented_browser(shapes.images, views, warps)  # a batch, not one image
    with pytest.raises(ValueError, match="one image"):
        augmented_browser(shapes.images[0], views[:, :4], warps)  # fewer views than warps


def test_heatmap_figures_have_titles_and_panels():
    shapes, maps, _ = _cam_inputs()
    fig = show_class_maps(shapes.images[0], maps[0], [f"class {i}" for i in range(6)], "six maps")
    assert fig._suptitle.get_text() == "six maps" and len([ax for ax in fig.axes if ax.get_title()]) == 7
    plt.close(fig)
    fig = show_heatmaps(shapes.images, maps[:, 0], ["a", "b", "c"], shapes.boxes, shapes.boxes, cols=3)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"] and len(fig.axes[0].patches) == 2
    plt.close(fig)


def test_rise_frame_is_the_map_of_the_predicted_class_with_its_box():
    model = load_shapes_gap()
    shapes = shapes_gap_test_set()
    images = shapes.images[:3]
    for estimator, options in (("paper", {}), ("centred", {"estimator": "centred"}),
                               ("complementary pairs", {"sampling": "complementary"})):
        fig = draw_rise_frame(model, images, 1, 200, 5, 0.5, 0.5, shapes.boxes[:3], estimator=estimator)
        title = fig.axes[0].get_title()
        plt.close(fig)
        expected = rise(model, images[1:2], masks=200, cells=5, keep=0.5, progress=False, **options)
        name = SHAPE_CLASSES[int(expected.classes[0, 0])]
        overlap = float(iou(box_from_heatmap(expected.maps[0], 0.5)[0], shapes.boxes[1]))
        assert f"predicted {name}: RISE ({estimator}), N = 200, s = 5, p = 0.50" in title
        assert f"IoU {overlap:.2f}" in title
    few, again, other = (rendered(draw_rise_frame(model, images, 1, 100, s, 0.5)) for s in (5, 5, 9))
    assert np.array_equal(few, again) and not np.array_equal(few, other)


def test_rise_and_convergence_browsercontrols():
    model = load_shapes_gap()
    shapes = shapes_gap_test_set()
    box = rise_browser(model, shapes.images[:4], shapes.boxes[:4])
    (index, masks), (cells, keep, tau) = (row.children for row in box.children[:2])
    estimator = box.children[2]
    assert (index.max, masks.value, cells.value, keep.value, tau.value) == (3, 250, 7, 0.5, 0.5)
    assert estimator.value == "centred" and not keep.disabled
    keep.value = 0.3
    estimator.value = "complementary pairs"  # pairs need p = 0.5: the slider is set and locked
    assert keep.value == 0.5 and keep.disabled
    estimator.value = "paper"
    assert not keep.disabled
    maps = {100: torch.rand(64, 64), 1000: torch.rand(64, 64)}
    box = convergence_browser(shapes.images[0], maps, shapes.boxes[0])
    count, tau = box.children[0].children
    assert list(count.options) == [100, 1000] and count.value == 1000


def _counting(model):
    """``model`` with a counter of its forward passes."""
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    return model, calls


def _browsers():
    """Each browser that computes maps, a counter of the computations, and which controls compute."""
    shapes = shapes_gap_test_set()
    model, calls = _counting(load_shapes_gap())
    yield (gradcam_browser(model, shapes.images[:3], ["backbone.5", "backbone.19"], true_boxes=shapes.boxes[:3]),
           calls, {"image", "layer"}, {"class", "threshold", "counterfactual"})
    model, calls = _counting(load_shapes_gap())
    yield (rise_browser(model, shapes.images[:3], shapes.boxes[:3]), calls, {"image", "masks N", "grid s", "keep p"},
           {"threshold"})


@pytest.mark.parametrize("which", [0, 1])
def test_browsers_compute_on_release_and_redraw_the_threshold_from_the_kept_map(which, capsys):
    box, calls, computing, cheap = list(_browsers())[which]
    found = controls(box)
    assert {name for name, c in found.items() if getattr(c, "continuous_update", True) is False} == computing
    computed = len(calls)
    assert computed > 0  # the first picture
    found["threshold"].value = 0.35
    for name in cheap:
        control = found[name]
        control.value = not control.value if isinstance(control.value, bool) else \
            (control.options[1][1] if hasattr(control, "options") else 0.55)
    assert len(calls) == computed  # no forward pass for the class, the sign or the threshold
    if "layer" in found:  # Grad-CAM has every image's maps at the default layer already: move to another
        found["layer"].value = found["layer"].options[0]
        assert len(calls) > computed
        computed = len(calls)
    first = found["image"].value
    found["image"].value = first + 1
    assert len(calls) > computed
    after = len(calls)
    found["image"].value = first  # seen before: kept
    assert len(calls) == after


def test_gradcam_browser_maps_every_image_at_the_default_layer_in_one_batch(capsys):
    shapes = shapes_gap_test_set()
    model, calls = _counting(load_shapes_gap())
    images, layers = shapes.images[:4], ["backbone.5", "backbone.19"]
    box = gradcam_browser(model, images, layers, true_boxes=shapes.boxes[:4], ranks=3)
    assert len(calls) == 1  # one batched pass for the four images (the first frame draws from it)
    found = controls(box)
    for index in (3, 1, 2):
        found["image"].value = index
        found["class"].value = 2
        found["class"].value = 0
    assert len(calls) == 1
    batch = gradcam_guesses(model, images, "backbone.19", 3)  # what the widget keeps: the same as one at a time
    for index in range(4):
        alone = gradcam_guesses(model, images[index:index + 1], "backbone.19", 3)
        assert torch.equal(batch[1][index], alone[1][0])
        assert torch.allclose(batch[0][index], alone[0][0], atol=1e-6)
        assert torch.allclose(batch[2][index], alone[2][0], atol=1e-5)


def test_augmented_browser_solves_once_per_setting(monkeypatch):
    import helpers.widgets as module

    solves = []
    original = module.super_resolve
    monkeypatch.setattr(module, "super_resolve", lambda *a, **k: solves.append(1) or original(*a, **k))
    shapes, warps, views = _augmented_inputs()
    found = controls(augmented_browser(shapes.images[0], views, warps, shapes.boxes[0]))
    assert {name for name, c in found.items() if c.continuous_update is False} == {"views L", "lambda", "iterations"}
    assert len(solves) == 1  # the first picture, at the defaults
    found["iterations"].value = 10
    found["threshold"].value = 0.4
    found["threshold"].value = 0.6
    assert len(solves) == 2
    found["views L"].value = 3
    found["views L"].value = 6
    assert len(solves) == 3


def _comparison_inputs():
    shapes = make_shapes(3, seed=4)
    maps = {"mask": shapes.masks.float(), "flat": torch.ones(3, 64, 64)}
    rows = [{"method": "mask", "MaxBoxAcc": 0.9, "best tau": 0.5, "deletion AUC": 0.2},
            {"method": "flat", "MaxBoxAcc": 0.1, "best tau": 0.0, "deletion AUC": 0.1},
            {"method": "box regressor (lesson 01)", "MaxBoxAcc": 0.5}]
    return shapes, maps, rows


def test_rank_rows_puts_the_best_first_in_each_direction():
    _, _, rows = _comparison_inputs()
    assert rank_rows(rows, "MaxBoxAcc") == [("mask", 0.9), ("box regressor (lesson 01)", 0.5), ("flat", 0.1)]
    assert rank_rows(rows, "deletion AUC") == [("flat", 0.1), ("mask", 0.2)]  # lower is better; a row without it is out
    with pytest.raises(ValueError, match="no row has the metric 'PxAP'"):
        rank_rows(rows, "PxAP")


def test_comparison_frame_draws_every_method_with_its_box_iou_and_the_ranking():
    shapes, maps, rows = _comparison_inputs()
    regressor = {"box regressor (lesson 01)": shapes.boxes + torch.tensor([0.0, 0.0, 4.0, 0.0])}
    fig, overlaps = draw_comparison_frame(shapes.images, maps, shapes.boxes, rows, 1, 0.5, "deletion AUC",
                                          boxes=regressor)
    assert overlaps["mask"] == pytest.approx(1.0)  # the mask's box is the true box
    assert overlaps["flat"] == pytest.approx(float(iou(torch.tensor([0.0, 0.0, 64.0, 64.0]), shapes.boxes[1])))
    assert overlaps["box regressor (lesson 01)"] == pytest.approx(float(iou(regressor["box regressor (lesson 01)"][1],
                                                                             shapes.boxes[1])))
    bars = fig.axes[-1]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["flat", "mask"]
    assert "lower is better" in bars.get_xlabel()
    assert all("IoU" in ax.get_title() for ax in fig.axes[:3])
    plt.close(fig)


def test_comparison_browsercontrols():
    shapes, maps, rows = _comparison_inputs()
    box = comparison_browser(shapes.images, maps, shapes.boxes, rows)
    index, tau, metric = box.children[0].children
    assert (index.max, tau.value) == (2, 0.5)
    assert not index.continuous_update and not tau.continuous_update  # a frame of every method: on release
    assert list(metric.options) == ["MaxBoxAcc", "deletion AUC"] and metric.value == "MaxBoxAcc"


def _contents(fig):
    return [(ax.get_title(), len(ax.images), len(ax.patches), len(ax.collections), len(ax.texts)) for ax in fig.axes]


def test_a_frame_drawn_again_into_its_figure_is_the_fresh_frame_at_the_first_layout():
    shapes = make_shapes(3, seed=4)
    maps, rows = {"mask": shapes.masks.float(), "flat": torch.ones(3, 64, 64)}, _comparison_inputs()[2]
    nets = {"net": GapNet(len(SHAPE_CLASSES), width=4).eval(), "flatten": FlattenNet(6, size=64, width=4).eval()}
    frames = {  # name: a frame of setting v, drawn into fig if given
        "map": lambda v, fig=None: draw_map_frame(shapes.images[v], shapes.masks[v].float(), 0.3 + 0.2 * v,
                                                  f"map {v}", shapes.boxes[v], fig=fig)[0],
        "comparison": lambda v, fig=None: draw_comparison_frame(shapes.images, maps, shapes.boxes, rows, v, 0.5,
                                                                ["deletion AUC", "MaxBoxAcc"][v % 2], fig=fig)[0],
        "shift": lambda v, fig=None: draw_shift_frame(nets, 3 * v, [96, 64][v % 2], v, fig=fig),  # the flatten net fails at 96
        "sample": lambda v, fig=None: draw_browser_frame(shapes, v, v == 0, fig=fig),
    }
    for name, frame in frames.items():
        fresh = frame(1)
        expected = _contents(fresh)
        fig = frame(0)
        fig.canvas.draw()
        positions = [ax.get_position() for ax in fig.axes]
        again = frame(1, fig)
        assert again is fig and _contents(fig) == expected, name  # nothing of the first frame is left
        assert [ax.get_position().bounds for ax in fig.axes] == [p.bounds for p in positions], name  # layout kept
        if name != "comparison":  # the same pixels as the fresh frame placed where the first one was
            fresh.set_layout_engine("none")
            for ax, position in zip(fresh.axes, positions):
                ax.set_position(position)
            assert np.array_equal(rendered(fig), rendered(fresh)), name
        plt.close(fresh)
        plt.close(fig)
