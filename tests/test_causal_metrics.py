"""Deletion and insertion (RISE paper): hand-computed curves and AUCs, the authors' blur, batching, bad inputs."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from helpers.metrics import blur, causal_curves, curve_auc


class ShareModel(nn.Module):
    """Two classes whose softmax probabilities are (a, 1 - a), a = the mean of channel 0 over ``region``."""

    def __init__(self, region=(slice(None), slice(None))):
        super().__init__()
        self.region = region

    def forward(self, x):
        a = x[:, 0, self.region[0], self.region[1]].mean(dim=(1, 2)).clamp(1e-9, 1 - 1e-9)
        return torch.stack([a.log(), (1 - a).log()], dim=1)


def test_deleting_every_pixel_alike_gives_a_straight_line_and_auc_one_half():
    images = torch.ones(1, 3, 8, 8)
    curves = causal_curves(ShareModel().eval(), images, torch.rand(1, 8, 8), "deletion", step=4, progress=False)
    assert torch.allclose(curves.fractions, torch.linspace(0, 1, 17))
    assert torch.allclose(curves.scores[0], 1 - curves.fractions, atol=1e-6)  # a = share of pixels left
    assert curves.auc.item() == pytest.approx(0.5, abs=1e-6) and curves.classes.tolist() == [0]


def test_the_ranking_decides_deletion_hand_computed():
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[2:4, 1:5] = True  # 8 of the 64 pixels are all the model reads
    model = ShareModel((slice(2, 4), slice(1, 5))).eval()
    images = torch.ones(1, 3, 8, 8)
    good = causal_curves(model, images, region.float()[None], "deletion", step=4, progress=False)
    # 16 steps of 4 pixels: the region goes in the first two, score 1, 0.5, then 0 (1e-9)
    assert torch.allclose(good.scores[0, :3], torch.tensor([1.0, 0.5, 0.0]), atol=1e-6)
    assert good.auc.item() == pytest.approx((1.5 - 0.5) / 16, abs=1e-6)
    bad = causal_curves(model, images, (~region).float()[None], "deletion", step=4, progress=False)
    # the region ranked last (pixels 56 to 63): removed by steps 15 and 16
    assert torch.allclose(bad.scores[0, 14:], torch.tensor([1.0, 0.5, 0.0]), atol=1e-6)
    assert bad.auc.item() == pytest.approx((15.5 - 0.5) / 16, abs=1e-6)


def test_the_curve_follows_the_class_asked_for():
    images = torch.ones(1, 3, 8, 8)  # class 0 has probability 1 - 1e-9: the predicted class
    second = causal_curves(ShareModel().eval(), images, torch.rand(1, 8, 8), "deletion", step=4, classes=[1],
                           progress=False)
    assert second.classes.tolist() == [1] and torch.allclose(second.scores[0], second.fractions, atol=1e-6)
    with pytest.raises(ValueError, match="one class per image"):
        causal_curves(ShareModel().eval(), images, torch.rand(1, 8, 8), "deletion", classes=[0, 1], progress=False)


def test_insertion_goes_from_the_blurred_image_to_the_original():
    model = ShareModel((slice(2, 4), slice(1, 5))).eval()
    images = torch.zeros(1, 3, 8, 8)
    images[:, :, 2:4, 1:5] = 1.0
    saliency = images[:, 0].clone()
    curves = causal_curves(model, images, saliency, "insertion", step=4, progress=False)
    blurred = model(blur(images)).softmax(dim=1)[0, 0]
    assert curves.scores[0, 0].item() == pytest.approx(blurred.item(), abs=1e-6)
    assert torch.allclose(curves.scores[0, 2:], torch.ones(15), atol=1e-6)  # the region is back after 2 steps
    # step 1 puts back the first 4 region pixels (ties keep row-major order: row 2); row 3 is still blurred
    assert curves.scores[0, 1].item() == pytest.approx(0.5 + blur(images)[0, 0, 3, 1:5].mean().item() / 2, abs=1e-6)


def test_deletion_onto_the_blurred_image_ends_at_the_blurred_score():
    model = ShareModel((slice(2, 4), slice(1, 5))).eval()
    images = torch.zeros(1, 3, 8, 8)
    images[:, :, 2:4, 1:5] = 1.0
    curves = causal_curves(model, images, images[:, 0].clone(), "deletion", step=4, progress=False, deleted="blur")
    blurred = blur(images)
    assert curves.scores[0, 0].item() == pytest.approx(1.0, abs=1e-6)  # nothing deleted yet
    # step 1 replaces the first 4 region pixels (row 2) by their blurred values; row 3 is still the original
    assert curves.scores[0, 1].item() == pytest.approx(0.5 + blurred[0, 0, 2, 1:5].mean().item() / 2, abs=1e-6)
    assert curves.scores[0, -1].item() == pytest.approx(model(blurred).softmax(dim=1)[0, 0].item(), abs=1e-6)
    zeros = causal_curves(model, images, images[:, 0].clone(), "deletion", step=4, progress=False)
    assert zeros.scores[0, -1].item() < 1e-6 < curves.scores[0, -1].item()  # the two substrates differ


def test_blur_is_the_authors_kernel_with_zero_padding():
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1
    kernel = gaussian_filter(impulse, 5)  # the authors' gkern(11, 5)
    image = torch.zeros(1, 2, 31, 31)
    image[0, 1, 15, 15] = 1.0
    out = blur(image)
    assert torch.allclose(out[0, 1, 10:21, 10:21], torch.from_numpy(kernel).float(), atol=1e-7)
    assert out[0, 0].abs().max() == 0  # channels are blurred separately
    corner = blur(torch.ones(1, 1, 31, 31))[0, 0, 0, 0]
    assert corner.item() == pytest.approx(kernel[5:, 5:].sum(), abs=1e-6)  # zero padding at the border


def test_batches_of_images_and_points_equal_one_at_a_time():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5)).eval()
    images, saliency = torch.randn(3, 3, 12, 12), torch.rand(3, 12, 12)
    for mode in ("deletion", "insertion"):
        together = causal_curves(model, images, saliency, mode, step=10, batch_size=7, progress=False)
        for i in range(3):
            alone = causal_curves(model, images[i:i + 1], saliency[i:i + 1], mode, step=10, batch_size=1,
                                  progress=False)
            assert torch.allclose(together.scores[i], alone.scores[0], atol=1e-6)
            assert together.classes[i] == alone.classes[0]
        assert together.scores.shape == (3, 16)  # ceil(144 / 10) = 15 steps, 16 points


@pytest.mark.parametrize("options, match", [
    ({"mode": "removal"}, "mode must be"),
    ({"step": 0}, "step must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"saliency": torch.rand(1, 4, 8)}, "saliency must be"),
    ({"deleted": "noise"}, "deleted must be"),
])
def test_bad_arguments(options, match):
    arguments = {"model": ShareModel().eval(), "images": torch.ones(1, 3, 8, 8), "saliency": torch.rand(1, 8, 8),
                 "mode": "deletion", "progress": False, **options}
    with pytest.raises(ValueError, match=match):
        causal_curves(**arguments)


def test_curve_auc_is_the_trapezoid_rule_over_zero_to_one():
    curves = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.0, 0.5], [0.2, 0.9]])
    assert torch.allclose(curve_auc(curves), torch.tensor([0.5, 1.0, 0.25, 0.55]))
    longer = torch.rand(3, 9, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(curve_auc(longer), torch.trapezoid(longer, torch.linspace(0, 1, 9), dim=1))
    with pytest.raises(ValueError, match="at least two points"):
        curve_auc(torch.ones(2, 1))
