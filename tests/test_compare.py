"""Every method behind one call, the comparison table, the box regressor's row and the weight-randomisation test."""

import pytest
import scipy.stats
import torch
import torch.nn.functional as F

from helpers.cam import cam, upsample
from helpers.checkpoints import load_shapes_gap, shapes_gap_test_set
from helpers.compare import (
    ALL_METHODS,
    METHODS,
    Timed,
    cascading_randomization,
    explain,
    explain_all,
    randomization_test,
    rank_correlation,
    score,
    structural_similarity,
)
from helpers.data import make_shapes
from helpers.metrics import box_row, causal_curves, normalize_maps
from helpers.models import GapNet, TwoHeadNet
from helpers.train import box_regression_loss, fit


@pytest.fixture(scope="module")
def model():
    return load_shapes_gap()


@pytest.fixture(scope="module")
def shapes():
    test = shapes_gap_test_set()
    return type(test)(*(field[:6] for field in test))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_images_are_refused_by_every_method(model, shapes, value):
    from helpers.augmented import augmented_grad_cam
    from helpers.gradcam import grad_cam
    from helpers.rise import rise

    images = shapes.images.clone()
    images[1, 0, 5, 7] = value
    images[4, 2] = value
    message = "2 of the 6 images hold NaN or infinite values"
    calls = [lambda: cam(model, images), lambda: grad_cam(model, images), lambda: rise(model, images, masks=8),
             lambda: augmented_grad_cam(model, images, views=2, progress=False)]
    calls += [lambda method=method: explain(method, model, images, shapes.labels) for method in ALL_METHODS]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_gives_one_normalised_map_per_image_at_the_image_size(model, shapes, method):
    maps = explain(method, model, shapes.images, shapes.labels, views=4, masks=64)
    assert maps.shape == (6, 64, 64) and maps.dtype == torch.float32
    assert maps.amin(dim=(1, 2)).eq(0).all() and maps.amax(dim=(1, 2)).eq(1).all()


def test_cam_and_grad_cam_are_the_lessons_maps_upsampled_and_normalised(model, shapes):
    raw = cam(model, shapes.images, shapes.labels.view(-1, 1)).maps
    assert torch.allclose(explain("CAM", model, shapes.images, shapes.labels),
                          normalize_maps(upsample(raw, 64)[:, 0]), atol=1e-6)
    # at the features CAM pools, Grad-CAM is ReLU(CAM) / Z (lesson 04), so after normalisation it is ReLU(CAM)
    assert torch.allclose(explain("Grad-CAM", model, shapes.images, shapes.labels, layer="backbone"),
                          normalize_maps(upsample(raw.relu(), 64)[:, 0]), atol=1e-5)


def test_one_unwarped_view_makes_both_warped_baselines_grad_cam(model, shapes):
    grad = explain("Grad-CAM", model, shapes.images, shapes.labels, layer="backbone.17")
    for method in ("warped views, max", "warped views, mean"):
        single = explain(method, model, shapes.images, shapes.labels, layer="backbone.17", views=1)
        assert torch.allclose(single, grad, atol=1e-5), method
    many = {method: explain(method, model, shapes.images, shapes.labels, layer="backbone.17", views=8)
            for method in ("warped views, max", "warped views, mean")}
    assert not torch.allclose(many["warped views, max"], many["warped views, mean"], atol=1e-2)


def test_the_random_map_follows_its_seed_and_the_centre_map_ignores_the_image(model, shapes):
    first = explain("random", model, shapes.images, shapes.labels, seed=3)
    assert torch.equal(first, explain("random", model, shapes.images, shapes.labels, seed=3))
    assert not torch.equal(first, explain("random", model, shapes.images, shapes.labels, seed=4))
    centre = explain("centre Gaussian", model, shapes.images, shapes.labels)
    assert torch.equal(centre[0], centre[5]) and centre[0, 31:33, 31:33].eq(1).all()


def test_bad_arguments(model, shapes):
    with pytest.raises(ValueError, match="method must be one of"):
        explain("LIME", model, shapes.images, shapes.labels)
    for method in ("centre Gaussian", "warped views, max"):
        with pytest.raises(ValueError, match="square"):
            explain(method, model, shapes.images[..., :48], shapes.labels)
    with pytest.raises(ValueError, match="one class per image"):
        explain_all(model, shapes.images, shapes.labels[:3], ("CAM",), progress=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        explain_all(model, shapes.images, shapes.labels, ("CAM",), batch_size=0, progress=False)


def test_chunks_give_the_maps_of_one_call_and_a_time_per_image(model, shapes):
    methods = ("CAM", "Grad-CAM", "RISE", "random")
    whole = explain_all(model, shapes.images, shapes.labels, methods, masks=64, progress=False)
    chunked = explain_all(model, shapes.images, shapes.labels, methods, batch_size=4, masks=64, progress=False)
    assert list(whole) == list(methods)
    for method in ("CAM", "Grad-CAM", "RISE"):  # the random map is drawn per chunk
        assert torch.allclose(whole[method].maps, chunked[method].maps, atol=1e-5), method
        assert whole[method].seconds_per_image > 0


def test_score_rows_a_perfect_map_and_the_box_regressor(model, shapes):
    explained = {"mask itself": Timed(shapes.masks.float(), 0.5),
                 "centre Gaussian": Timed(explain("centre Gaussian", model, shapes.images, shapes.labels), 0.0)}
    rows = score(model, shapes.images, shapes.boxes, shapes.masks, explained, regressor_boxes=shapes.boxes,
                 step=512, progress=False)
    assert [row["method"] for row in rows] == ["mask itself", "centre Gaussian", "box regressor (lesson 01)"]
    perfect = rows[0]
    assert perfect["MaxBoxAcc"] == 1 and perfect["PxAP"] == pytest.approx(1) and perfect["pointing game"] == 1
    assert perfect["s / image"] == 0.5
    curves = causal_curves(model, shapes.images, explained["centre Gaussian"].maps, "insertion", step=512,
                           progress=False)
    assert rows[1]["insertion AUC"] == pytest.approx(curves.auc.mean().item())
    assert rows[2] == {"method": "box regressor (lesson 01)", "MaxBoxAcc": 1, "MaxBoxAccV2": 1, "pointing game": 1}


def test_per_image_values_average_to_the_rows_and_other_classes_change_the_curves(model, shapes):
    explained = {"Grad-CAM": Timed(explain("Grad-CAM", model, shapes.images, shapes.labels), 0.0),
                 "random": Timed(explain("random", model, shapes.images, shapes.labels), 0.0)}
    per_image = {}
    rows = score(model, shapes.images, shapes.boxes, shapes.masks, explained, step=512, per_image=per_image,
                 progress=False)
    for row in rows:
        values = per_image[row["method"]]
        assert set(values) == {"IoU at best tau", "pointing game", "deletion AUC", "insertion AUC"}
        assert (values["IoU at best tau"] >= 0.5).float().mean().item() == pytest.approx(row["MaxBoxAcc"])
        for metric in ("pointing game", "deletion AUC", "insertion AUC"):
            assert values[metric].shape == (6,) and values[metric].mean().item() == pytest.approx(row[metric])
    other = (shapes.labels + 1) % 6  # a class each image does not show: a low probability from the start
    rows_other = score(model, shapes.images, shapes.boxes, shapes.masks, explained, step=512, classes=other,
                       progress=False)
    assert rows_other[0]["insertion AUC"] < rows[0]["insertion AUC"]
    assert rows_other[0]["MaxBoxAcc"] == rows[0]["MaxBoxAcc"]  # the maps, not the classes, make the box scores


def test_box_row_by_hand():
    truth = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3)
    predicted = torch.tensor([[0.0, 0.0, 10.0, 10.0],  # IoU 1
                              [0.0, 0.0, 10.0, 4.0],  # IoU 0.4, centre (5, 2) inside
                              [20.0, 20.0, 30.0, 30.0]])  # IoU 0, centre outside
    row = box_row(predicted, truth)
    assert row["MaxBoxAcc"] == pytest.approx(1 / 3)
    assert row["MaxBoxAccV2"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    assert row["pointing game"] == pytest.approx(2 / 3)
    two_objects = torch.stack([truth, torch.tensor([[20.0, 20.0, 30.0, 30.0]] * 3)], dim=1)  # the best one counts
    assert box_row(predicted, two_objects)["MaxBoxAcc"] == pytest.approx(2 / 3)  # box 3 is object 2
    with pytest.raises(ValueError, match="one box per image"):
        box_row(predicted[None], truth)


def test_box_regression_loss_is_cross_entropy_plus_the_weighted_box_loss():
    shapes = make_shapes(4, seed=0)
    cxcywh = torch.cat([(shapes.boxes[:, :2] + shapes.boxes[:, 2:]) / 2, shapes.boxes[:, 2:] - shapes.boxes[:, :2]],
                       dim=1) / 64
    logits = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    exact = box_regression_loss("l2", 10.0)((logits, cxcywh), shapes)
    assert exact["box"].item() == pytest.approx(0, abs=1e-12)
    assert exact["loss"].item() == pytest.approx(F.cross_entropy(logits, shapes.labels).item())
    off = box_regression_loss("l2", 10.0)((logits, cxcywh + 0.1), shapes)
    assert off["box"].item() == pytest.approx(4 * 0.1 ** 2, rel=1e-4)  # squared L2 norm of (0.1, 0.1, 0.1, 0.1)
    assert off["loss"].item() == pytest.approx(off["ce"].item() + 10 * off["box"].item())


def test_fit_trains_a_box_regressor():
    shapes = make_shapes(256, seed=5)
    torch.manual_seed(0)
    model = TwoHeadNet(classes=6, size=64, width=4)
    history = fit(model, shapes, box_regression_loss(), 3, device="cpu", progress=False)
    assert history["train box"][-1] < history["train box"][0] and set(history) >= {"train ce", "train loss"}


def test_cascade_randomises_from_the_top_one_layer_at_a_time_and_leaves_the_model_alone(model):
    original = {name: p.clone() for name, p in model.state_dict().items()}
    layers = ["backbone.0", "backbone.3", "backbone.7", "backbone.10", "backbone.14", "backbone.17", "classifier"]
    state = torch.random.get_rng_state()
    steps = list(cascading_randomization(model, seed=1))
    assert torch.equal(state, torch.random.get_rng_state())
    assert [name for name, _ in steps] == ["none", *layers[::-1]]
    for count, (_, copy) in enumerate(steps):
        assert not copy.training
        changed = {name.rsplit(".", 1)[0] for name, p in copy.state_dict().items()
                   if not torch.equal(p, original[name])}
        assert changed == set(layers[::-1][:count]), count
    assert all(torch.equal(p, original[name]) for name, p in model.state_dict().items())
    again = list(cascading_randomization(model, seed=1))[3][1]
    assert all(torch.equal(p, q) for p, q in zip(again.state_dict().values(), steps[3][1].state_dict().values()))


def test_independent_randomisation_resets_one_layer_at_a_time_with_the_cascades_weights(model):
    original = {name: p.clone() for name, p in model.state_dict().items()}
    cascade = list(cascading_randomization(model, seed=1))
    alone = list(cascading_randomization(model, seed=1, cascading=False))
    assert [name for name, _ in alone] == [name for name, _ in cascade]
    for (name, copy), (_, cascaded) in zip(alone[1:], cascade[1:]):
        changed = {key.rsplit(".", 1)[0] for key, p in copy.state_dict().items() if not torch.equal(p, original[key])}
        assert changed == {name}, name  # only its own layer differs from the trained model...
        mine = {key: p for key, p in copy.state_dict().items() if key.startswith(name + ".")}
        assert all(torch.equal(p, cascaded.state_dict()[key]) for key, p in mine.items())  # ...with the cascade's weights
    found = randomization_test(model, torch.rand(2, 3, 64, 64), torch.tensor([0, 1]), ("CAM",), cascading=False,
                               progress=False)
    assert found.stages == [name for name, _ in alone]
    assert found.correlations["CAM"][0] == pytest.approx(1)


def test_cascade_by_named_groups_and_bad_groups(model):
    steps = list(cascading_randomization(model, groups=["classifier", "backbone"]))
    assert [name for name, _ in steps] == ["none", "classifier", "backbone"]
    with pytest.raises(ValueError, match="no module named 'head'"):
        list(cascading_randomization(model, groups=["head"]))
    with pytest.raises(ValueError, match="convolution or linear"):
        list(cascading_randomization(model, groups=["pool"]))
    assert isinstance(steps[-1][1], GapNet)


def test_rank_correlation_is_spearmans_with_ties():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, 6, 7, generator=generator).relu()  # about half zeros: ties
    b = (a + 0.7 * torch.randn(3, 6, 7, generator=generator)).relu()
    expected = [scipy.stats.spearmanr(x.flatten(), y.flatten()).statistic for x, y in zip(a, b)]
    assert rank_correlation(a, b).tolist() == pytest.approx(expected, abs=1e-6)
    assert rank_correlation(a, a).tolist() == pytest.approx([1.0] * 3)
    assert rank_correlation(a, -a).tolist() == pytest.approx([-1.0] * 3)
    flat = torch.zeros_like(a)
    assert rank_correlation(a, flat).tolist() == [0.0] * 3 and rank_correlation(flat, flat).tolist() == [0.0] * 3
    with pytest.raises(ValueError, match="one shape"):
        rank_correlation(a, b[:2])


def test_randomization_test_compares_every_stage_with_the_trained_maps(model, shapes):
    found = randomization_test(model, shapes.images[:3], shapes.labels[:3], ("CAM", "random", "RISE"), masks=64,
                               progress=False)
    assert found.stages[0] == "none" and len(found.stages) == 8
    assert found.correlations["CAM"][0] == pytest.approx(1) and found.correlations["CAM"][1] < 0.9
    assert found.correlations["random"] == pytest.approx([1.0] * 8)  # it ignores the model
    # RISE draws other masks at each stage: its "none" stage is its reproducibility, not 1
    own = rank_correlation(explain("RISE", model, shapes.images[:3], shapes.labels[:3], masks=64, seed=0),
                           explain("RISE", model, shapes.images[:3], shapes.labels[:3], masks=64, seed=1))
    assert found.correlations["RISE"][0] == pytest.approx(own.mean().item(), abs=1e-6)
    assert found.correlations["RISE"][0] < 0.99
    assert torch.equal(found.maps["CAM"][0], explain("CAM", model, shapes.images[:3], shapes.labels[:3]))
    assert found.per_image["CAM"].shape == (8, 3) and found.ssim["CAM"].shape == (8, 3)
    assert found.per_image["CAM"].mean(dim=1).tolist() == pytest.approx(found.correlations["CAM"])
    assert found.ssim["CAM"][0].tolist() == pytest.approx([1.0] * 3) and found.ssim["random"].min() > 0.999
    assert found.ssim["CAM"][1:].max() < 0.999


def test_structural_similarity_equals_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(4, 40, 33, generator=generator)
    b = (a + 0.3 * torch.rand(4, 40, 33, generator=generator)).clamp(0, 1)
    b[3] = torch.rand(40, 33, generator=generator)  # unrelated
    ours = structural_similarity(a, b)
    theirs = [metrics.structural_similarity(x.double().numpy(), y.double().numpy(), data_range=1.0,
                                            gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
              for x, y in zip(a, b)]
    assert ours.tolist() == pytest.approx(theirs, abs=1e-6)
    assert structural_similarity(a, a).tolist() == pytest.approx([1.0] * 4)
    assert ours[3] < 0.2 < ours[0]
    with pytest.raises(ValueError, match="one shape"):
        structural_similarity(a, b[:2])
    with pytest.raises(ValueError, match="window"):
        structural_similarity(a[:, :8, :8], b[:, :8, :8])
