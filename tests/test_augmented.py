"""Augmented Grad-CAM: the warps, the forward operator, the solver and the whole method."""

import pytest
import torch
import torch.nn.functional as F

from helpers import augmented as A
from helpers.checkpoints import load_shapes_gap, shapes_gap_test_set


def one_warp(angle=0.0, scale=1.0, dx=0.0, dy=0.0):
    return A.Augmentations(torch.tensor([angle]), torch.tensor([scale]), torch.tensor([[dx, dy]]))


def peak(image):
    index = int(image.flatten().argmax())
    return index % image.shape[-1], index // image.shape[-1]


def grid(size=64):
    return torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")


def test_sampled_augmentations_start_with_the_identity_and_respect_the_ranges():
    aug = A.sample_augmentations(50, rotation=(-10, 20), translation=(-0.1, 0.05), scale=(0.9, 1.2), seed=3)
    assert (aug.angles[0], aug.scales[0], *aug.shifts[0]) == (0.0, 1.0, 0.0, 0.0)
    assert aug.angles[1:].min() >= -10 and aug.angles[1:].max() <= 20 and aug.angles[1:].std() > 5
    assert aug.shifts[1:].min() >= -0.1 and aug.shifts[1:].max() <= 0.05
    assert aug.scales[1:].min() >= 0.9 and aug.scales[1:].max() <= 1.2
    again, other = A.sample_augmentations(50, rotation=(-10, 20), translation=(-0.1, 0.05), scale=(0.9, 1.2),
                                          seed=3), A.sample_augmentations(50, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(aug, again)) and not torch.equal(aug.angles, other.angles)
    default = A.sample_augmentations(200)
    assert default.angles.abs().max() <= 28.65 and default.shifts.abs().max() <= 30 / 224
    assert torch.all(default.scales == 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"count": 0}, "count must be an int >= 1"),
    ({"count": 4, "rotation": (10, -10)}, "rotation range"),
    ({"count": 4, "translation": (0.1, 0.0)}, "translation range"),
    ({"count": 4, "scale": (0.0, 1.0)}, "scale must be positive"),
])
def test_bad_augmentations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        A.sample_augmentations(**kwargs)


@pytest.mark.parametrize("warp, expected", [
    (one_warp(dx=0.125), (48, 32)),  # 8 px right
    (one_warp(dy=0.25), (40, 48)),  # 16 px down
    (one_warp(angle=90.0), (32, 23)),  # 8.5 px right of the centre (31.5) turns to 8.5 px above it
    (one_warp(scale=2.0), (48, 32)),  # 8.5 px from the centre becomes 17
    (one_warp(angle=90.0, dx=0.125), (40, 23)),  # rotation first, then the shift
])
def test_warps_move_a_dot_where_expected(warp, expected):
    dot = torch.zeros(1, 1, 1, 64, 64)
    dot[..., 32, 40] = 1.0  # x = 40, y = 32
    assert peak(A.warp(dot, warp)[0, 0, 0]) == expected


def test_inverse_warp_undoes_the_warp_and_copy_zero_is_untouched():
    ys, xs = grid()
    blob = torch.exp(-((xs - 30) ** 2 + (ys - 34) ** 2) / (2 * 6.0 ** 2))
    aug = A.sample_augmentations(8, seed=1)
    maps = blob.expand(1, 8, 1, 64, 64)
    back = A.warp(A.warp(maps, aug), aug, inverse=True)
    assert (back - maps)[..., 16:48, 16:48].abs().max() < 0.02  # two bilinear resamplings of a smooth map
    assert torch.allclose(A.warp(maps, aug)[:, 0], maps[:, 0], atol=1e-5)
    with pytest.raises(ValueError, match="square maps"):
        A.warp(torch.zeros(1, 8, 1, 64, 32), aug)
    with pytest.raises(ValueError, match="L=8"):
        A.warp(torch.zeros(1, 7, 1, 64, 64), aug)


def test_forward_operator_on_a_linear_map_equals_the_warped_ramp_at_the_cell_centres():
    # h(x, y) = 0.02 x - 0.01 y + 0.3. A warp keeps it linear and D averages each 8 x 8 cell
    # with a symmetric kernel, so away from the border each cell holds h at the cell centre
    # mapped back through the warp: h(back @ (p - shift)), computed here in pixels.
    ys, xs = grid()
    ramp = 0.02 * xs - 0.01 * ys + 0.3
    aug = A.Augmentations(torch.tensor([0.0, 20.0, -35.0]), torch.tensor([1.0, 1.0, 1.1]),
                          torch.tensor([[0.0, 0.0], [0.05, -0.03], [-0.04, 0.02]]))
    result = A.forward_operator(ramp[None], aug, (8, 8))[0]
    centres = torch.arange(8) * 8 + 3.5
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    for l in range(3):
        angle = torch.deg2rad(aug.angles[l])
        px, py = cx - 31.5 - 64 * aug.shifts[l, 0], cy - 31.5 - 64 * aug.shifts[l, 1]
        # undo the counter-clockwise (on screen, y down) turn and the zoom
        x = (torch.cos(angle) * px - torch.sin(angle) * py) / aug.scales[l] + 31.5
        y = (torch.sin(angle) * px + torch.cos(angle) * py) / aug.scales[l] + 31.5
        expected = 0.02 * x - 0.01 * y + 0.3
        assert torch.allclose(result[l, 2:6, 2:6], expected[2:6, 2:6], atol=1e-4), l


def shapes_truth(size=64):
    ys, xs = grid(size)
    disc = (((xs - 24) ** 2 + (ys - 28) ** 2) < 10 ** 2).float()
    bar = 0.6 * (((xs - 44).abs() < 6) & ((ys - 40).abs() < 9)).float()
    return (disc + bar)[None]


def psnr(estimate, truth):
    return (10 * torch.log10(truth.max() ** 2 / ((estimate - truth) ** 2).mean())).item()


def test_solver_recovers_a_known_map_far_better_than_upsampling_one_view():
    truth = shapes_truth()
    aug = A.sample_augmentations(32, seed=0)
    views = A.forward_operator(truth, aug, (8, 8))  # exact, noise-free low-resolution views of h*
    h, history = A.solve(views, aug, 64, lam=0.001, mu=1e-5, iterations=200, progress=False)
    upsampled = F.interpolate(views[:, :1], size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    margin = psnr(h, truth) - psnr(upsampled, truth)
    assert margin > 6.0, margin  # measured: 26.5 dB against 16.3 dB
    assert history[-1] < 0.01 * history[0]


def test_cells_past_the_image_edge_are_left_out_and_the_rest_are_fitted():
    truth = shapes_truth(32)
    aug = A.sample_augmentations(8, seed=1)
    views = A.forward_operator(truth, aug, (8, 8))
    inside = A.inside_cells(A.operator(aug, 32, (8, 8)), 32)
    assert inside[0].all()  # the unwarped copy sees only the image
    assert 0.3 < inside[1:].mean() < 0.95  # the warped ones lose the cells their shifts and turns push off it
    garbage = torch.where(inside.bool(), views, torch.full_like(views, 5.0))  # heat past the edge, as a network's
    clean, _ = A.solve(views, aug, 32, lam=0.01, mu=1e-4, iterations=50, progress=False)
    spoilt, _ = A.solve(garbage, aug, 32, lam=0.01, mu=1e-4, iterations=50, progress=False)
    assert torch.allclose(clean, spoilt, atol=1e-6)
    assert A.objective(clean, views, aug, 0.01, 1e-4) == A.objective(clean, garbage, aug, 0.01, 1e-4)


def test_unexplained_share_is_zero_for_the_true_map_and_one_for_no_map():
    truth = shapes_truth(32)
    aug = A.sample_augmentations(8, seed=1)
    views = A.forward_operator(truth, aug, (8, 8))
    assert A.unexplained(views, truth, aug) < 1e-6
    assert A.unexplained(views, torch.zeros_like(truth), aug) == pytest.approx(1.0)
    assert A.unexplained(views, 0.5 * truth, aug) == pytest.approx(0.5, abs=1e-6)  # D(A .) is linear


def test_lbfgs_reaches_the_objective_of_a_long_adam_run():
    truth = shapes_truth(32)
    aug = A.sample_augmentations(16, seed=2)
    views = A.forward_operator(truth, aug, (8, 8))
    _, quick = A.solve(views, aug, 32, lam=0.01, mu=1e-4, iterations=100, progress=False)
    _, slow = A.solve(views, aug, 32, lam=0.01, mu=1e-4, iterations=2000, solver="adam", lr=1e-2, progress=False)
    assert quick[-1] <= 1.01 * min(slow)


def test_one_view_without_warps_gives_a_smooth_upsampling():
    ys, xs = grid(8)
    views = torch.exp(-((xs - 3) ** 2 + (ys - 4.5) ** 2) / (2 * 1.5 ** 2))[None, None]  # a smooth 8 x 8 map
    identity = A.sample_augmentations(1)
    h, _ = A.solve(views, identity, 64, lam=1e-4, mu=1e-6, iterations=200, progress=False)
    upsampled = F.interpolate(views, size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    assert (A.reduce(h, (8, 8)) - views[:, 0]).abs().max() < 0.01  # it explains the view
    correlation = torch.corrcoef(torch.stack([h.flatten(), upsampled.flatten()]))[0, 1]
    assert correlation > 0.97, correlation  # measured 0.985
    assert A.total_variation(h) < 1.1 * A.total_variation(upsampled)  # no ringing or noise added (measured 1.03)


@pytest.fixture(scope="module")
def gap_net():
    return load_shapes_gap()


def test_augmented_grad_cam_is_seeded_and_its_views_are_normalised(gap_net):
    images = shapes_gap_test_set().images[:2]
    first = A.augmented_grad_cam(gap_net, images, views=8, iterations=20, layer="backbone", progress=False)
    again = A.augmented_grad_cam(gap_net, images, views=8, iterations=20, layer="backbone", progress=False)
    other = A.augmented_grad_cam(gap_net, images, views=8, iterations=20, layer="backbone", seed=1, progress=False)
    assert torch.equal(first.map, again.map) and not torch.equal(first.map, other.map)
    assert first.map.shape == (2, 64, 64) and first.views.shape == (2, 8, 16, 16)
    assert torch.allclose(first.views.amax(dim=(-2, -1)), torch.ones(2, 8))
    assert torch.equal(first.classes, gap_net(images).argmax(dim=1))


def test_the_operator_predicts_the_views_of_a_real_network(gap_net):
    # The images are warped for the network and h is warped by the operator with the same
    # matrices: a network's view of a warped copy must match D(A_l h) for h = the unwarped map
    # upsampled, and must not match the mirrored warps (a sign or axis mistake between the two).
    shapes = shapes_gap_test_set()
    warps = A.sample_augmentations(16, seed=0)
    views = A.grad_cam_views(gap_net, shapes.images[:10], shapes.labels[:10], warps, layer="backbone")
    up = F.interpolate(views[:, :1], size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    mirrored = A.Augmentations(-warps.angles, warps.scales, -warps.shifts)

    def correlation(a, b):
        a, b = (x - x.mean(dim=(-2, -1), keepdim=True) for x in (a, b))
        return ((a * b).sum(dim=(-2, -1)) / (a.norm(dim=(-2, -1)) * b.norm(dim=(-2, -1)) + 1e-9)).mean().item()

    right = correlation(views[:, 1:], A.forward_operator(up, warps, (16, 16))[:, 1:])
    wrong = correlation(views[:, 1:], A.forward_operator(up, mirrored, (16, 16))[:, 1:])
    assert right > 0.9 and wrong < right - 0.3, (right, wrong)  # measured 0.94 and 0.33 on these 10 images


def test_views_scaled_by_copy_zero_are_the_same_maps_at_their_relative_heights(gap_net):
    shapes = shapes_gap_test_set()
    warps = A.sample_augmentations(3, seed=1)
    images, labels = shapes.images[:2], shapes.labels[:2]
    own = A.grad_cam_views(gap_net, images, labels, warps, "backbone.17")
    zero = A.grad_cam_views(gap_net, images, labels, warps, "backbone.17", reference="copy 0")
    assert torch.allclose(zero[:, 0], own[:, 0], atol=1e-6)  # copy 0 divided by its own maximum either way
    assert torch.allclose(zero / zero.amax(dim=(-2, -1), keepdim=True), own, atol=1e-5)  # same maps, other heights
    assert not torch.allclose(zero.amax(dim=(-2, -1)), torch.ones(2, 3))
    with pytest.raises(ValueError, match="reference must be"):
        A.grad_cam_views(gap_net, images, labels, warps, reference="mean")


@pytest.mark.parametrize("kwargs, match", [
    ({"views": 0}, "count must be an int >= 1"),
    ({"rotation": (5, -5)}, "rotation range"),
    ({"resolution": 8}, "resolution must be an int between"),
    ({"resolution": 128}, "resolution must be an int between"),
    ({"solver": "sgd"}, "solver must be"),
    ({"iterations": 0}, "iterations must be"),
])
def test_bad_arguments(gap_net, kwargs, match):
    images = shapes_gap_test_set().images[:1]
    with pytest.raises(ValueError, match=match):
        A.augmented_grad_cam(gap_net, images, **{"views": 4, "iterations": 2, "progress": False, **kwargs})


def test_images_must_be_square_batches(gap_net):
    with pytest.raises(ValueError, match="must be square"):
        A.augmented_grad_cam(gap_net, torch.rand(1, 3, 64, 48), views=2, progress=False)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        A.augmented_grad_cam(gap_net, torch.rand(3, 64, 64), views=2, progress=False)


def test_baselines_of_unwarped_copies_are_the_upsampled_map():
    views = torch.rand(2, 1, 8, 8).expand(2, 3, 8, 8).contiguous()
    none = A.Augmentations(torch.zeros(3), torch.ones(3), torch.zeros(3, 2))
    result = A.baselines(views, none, 32)
    up = F.interpolate(views[:, :1], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    for name in ("upsampled", "max", "mean"):
        assert torch.allclose(result[name], up, atol=1e-5), name
