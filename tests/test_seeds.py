"""helpers.seeds: the test-time head variants and the stored results (their reproduction is checked by lesson 02)."""

import pytest
import torch

from helpers import seeds
from helpers.device import set_seed
from helpers.models import GapNet


def test_head_variants_change_only_what_they_say():
    set_seed(0)
    net = GapNet(6, width=2).eval()
    with torch.no_grad():
        net.classifier.bias.uniform_(-1, 1)
    images = torch.rand(3, 3, 32, 32)
    features = net.backbone(images)
    same = seeds.head_variant(net, "average pooling")
    no_bias = seeds.head_variant(net, "bias set to zero")
    peak = seeds.head_variant(net, "max pooling")
    with torch.no_grad():
        assert torch.equal(same(images), net(images))
        assert torch.allclose(no_bias(images), net(images) - net.classifier.bias, atol=1e-6)
        assert torch.allclose(peak(images), net.classifier(features.amax(dim=(2, 3))), atol=1e-6)
    assert net.classifier.bias.abs().sum() > 0 and isinstance(net.pool, torch.nn.AdaptiveAvgPool2d)  # untouched
    with pytest.raises(ValueError, match="variant must be one of"):
        seeds.head_variant(net, "median pooling")


def test_the_stored_canvas_results_cover_the_recipe():
    recipe, results = seeds.load("canvas")
    assert recipe == seeds.CANVAS_RECIPE
    assert sorted(results) == [str(s) for s in recipe["seeds"]]
    for per_seed in results.values():
        assert sorted(per_seed) == sorted(seeds.VARIANTS)
        assert all(sorted(per_size, key=int) == [str(s) for s in recipe["sizes"]] for per_size in per_seed.values())
        assert all(0.0 <= value <= 1.0 for per_size in per_seed.values() for value in per_size.values())


def test_a_missing_result_file_says_how_to_make_it():
    with pytest.raises(FileNotFoundError, match="scripts/run_seeds.py nothing"):
        seeds.load("nothing")
