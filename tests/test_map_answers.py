"""helpers.exercises.map_answers (lesson 06's answers: occlusion from RISE's ingredients) and rise.masked_scores."""

import pytest
import torch
from torch import nn

from helpers import rise
from helpers.exercises import map_answers


class LinearScore(nn.Module):
    """Two logits: the sum of the pixels inside a fixed region (class 0) and 0 (class 1)."""

    def __init__(self, region):
        super().__init__()
        self.register_buffer("region", region.float())

    def forward(self, images):
        inside = (images * self.region).sum(dim=(1, 2, 3))
        return torch.stack([inside, torch.zeros_like(inside)], dim=1)


def test_masked_scores_is_the_score_of_each_masked_image():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()
    images, masks = torch.rand(2, 3, 8, 8), torch.rand(3, 8, 8)
    classes = torch.tensor([[1, 4], [0, 2]])
    found = rise.masked_scores(model, images, classes, masks)
    assert found.shape == (2, 3, 2)
    for b in range(2):
        for i in range(3):
            with torch.no_grad():
                expected = model((images[b] * masks[i])[None]).softmax(dim=1)[0, classes[b]]
            assert torch.allclose(found[b, i], expected, atol=1e-6)
    logits = rise.masked_scores(model, images, classes, masks, score="logit")
    with torch.no_grad():
        assert torch.allclose(logits[1, 2, 0], model((images[1] * masks[2])[None])[0, 0], atol=1e-6)


def test_occlusion_masks_slide_one_square():
    masks = map_answers.occlusion_masks(6, 2, 2)
    assert masks.shape == (9, 6, 6)
    assert ((1 - masks).sum(dim=(1, 2)) == 4).all()  # one 2 x 2 square each
    assert masks[0, :2, :2].eq(0).all() and masks[8, 4:, 4:].eq(0).all()
    assert ((1 - masks).sum(dim=0) == 1).all()  # stride = patch: every pixel hidden exactly once
    assert map_answers.occlusion_masks(5, 2, 4).shape == (1, 5, 5)  # only the square at 0 fits


def test_occlusion_of_a_region_score_by_hand():
    """With a score that sums one region, the drop of hiding a square is the part of the square in the region."""
    region = torch.zeros(1, 1, 4, 4)
    region[..., :2, :2] = 1
    model = LinearScore(region).eval()
    images = torch.ones(1, 3, 4, 4) * 0.1  # class 0 logit 1.2 unmasked; probabilities through the softmax
    masks = map_answers.occlusion_masks(4, 2, 2)
    maps = map_answers.occlusion(model, images, torch.tensor([0]), masks, batch_size=3)
    full = torch.tensor([1.2, 0.0]).softmax(dim=0)[0]
    hidden_region = torch.tensor([0.0, 0.0]).softmax(dim=0)[0]  # the square over the region hides all of it
    assert maps.shape == (1, 4, 4)
    assert torch.allclose(maps[0, :2, :2], (full - hidden_region).expand(2, 2))
    assert torch.allclose(maps[0, 2:, :], torch.zeros(2, 4), atol=1e-7)  # hiding what the score ignores costs nothing
    assert torch.allclose(maps[0, :2, 2:], torch.zeros(2, 2), atol=1e-7)


def test_overlapping_squares_average_their_drops():
    region = torch.zeros(1, 1, 3, 3)
    region[..., 1, 1] = 1  # only the centre counts
    model = LinearScore(region).eval()
    masks = map_answers.occlusion_masks(3, 2, 1)  # four squares, all covering the centre
    maps = map_answers.occlusion(model, torch.ones(1, 3, 3, 3), torch.tensor([0]), masks)
    drop = torch.tensor([3.0, 0.0]).softmax(dim=0)[0] - 0.5
    assert torch.allclose(maps[0], drop.expand(3, 3))  # every pixel is covered only by squares that hide the centre
    with pytest.raises(ValueError, match="masks must be"):
        rise.masked_scores(model, torch.ones(1, 3, 3, 3), torch.tensor([[0]]), torch.ones(2, 4, 4))
