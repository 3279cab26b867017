"""helpers.seeds: the head variants, the tables over seeds and the stored results (each lesson that loads a file checks its own seed)."""

import json

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


def test_every_head_starts_from_the_same_backbone_and_unknown_heads_are_refused():
    recipe = dict(seeds.HEADS_RECIPE, width=2, hidden=4)
    nets = [seeds.build_head(kind, 3, recipe) for kind in seeds.HEADS]
    states = [net.backbone.state_dict() for net in nets]
    assert all(torch.equal(states[0][key], state[key]) for state in states[1:] for key in states[0])
    assert not torch.equal(seeds.build_head(seeds.HEADS[1], 4, recipe).backbone[0].weight, nets[1].backbone[0].weight)
    with pytest.raises(ValueError, match="kind must be one of"):
        seeds.build_head("attention pooling", 0, recipe)


def test_spread_row():
    row = seeds.spread_row({"head": "GAP"}, [0.5, 0.25, 0.75], [0, 1, 2])
    assert row == {"head": "GAP", "seed 0": 0.5, "seed 1": 0.25, "seed 2": 0.75, "min": 0.25, "max": 0.75}
    with pytest.raises(ValueError, match="one value per seed"):
        seeds.spread_row({}, [0.5], [0, 1])


def test_the_stored_head_results_cover_the_recipe():
    recipe, results = seeds.load("heads")
    assert recipe == seeds.HEADS_RECIPE and sorted(results) == [str(s) for s in recipe["seeds"]]
    settings = {f"{recipe['train_images']} images, {recipe['epochs']} epochs",
                f"{recipe['few_images']} images, {recipe['few_epochs']} epochs"}
    for per_seed in results.values():
        assert set(per_seed) == settings
        for per_head in per_seed.values():
            assert list(per_head) == list(seeds.HEADS)
            for kind, scores in per_head.items():
                assert sorted(scores["radius"], key=int) == [str(r) for r in recipe["radii"]]
                assert (scores["canvas"] is None) == (kind == "flatten + FC")  # its head takes 64 x 64 only
                assert 0 <= scores["test"]["accuracy"] <= 1 and scores["train"]["loss"] >= 0


def test_the_stored_rise_and_augmented_results_cover_their_recipes():
    recipe, rows = seeds.load("rise_shapes")
    assert recipe == seeds.RISE_SHAPES_RECIPE
    runs = [f"RISE, N = {n}, mask seed {s}" for n, s in recipe["runs"]]
    assert list(rows) == runs + ["Grad-CAM, last conv", "centre baseline", f"{runs[0]}, first {recipe['lesson_images']}"]
    assert all(0 <= row["MaxBoxAcc"] <= 1 and 0 <= row["PxAP"] <= 1 for row in rows.values())
    recipe, runs = seeds.load("augmented_views")
    assert recipe == seeds.AUGMENTED_RECIPE
    assert list(runs) == [f"L = {views}, warps seed {seed}" for views, seed in recipe["runs"]]
    for run in runs.values():
        assert list(run["shapes"]) == list(run["photos"]) == ["upsampled", "max", "mean", "augmented"]
        assert 0 < run["unexplained"]["shapes"] < 1 and 0 < run["unexplained"]["photos"] < 1
    # plain Grad-CAM (copy 0, never warped) does not depend on the warps
    assert len({json.dumps(run["shapes"]["upsampled"]) for run in runs.values()}) == 1


def test_over_seeds_walks_the_stored_keys_as_strings():
    stored = {"0": {"images": {"300": {"GAP": 0.9}}}, "1": {"images": {"300": {"GAP": 0.8}}}, "2": {}}
    assert seeds.over_seeds(stored, [0, 1], "images", 300, "GAP") == [0.9, 0.8]
    assert seeds.over_seeds(stored, [1, 0], "images", "300") == [{"GAP": 0.8}, {"GAP": 0.9}]
    with pytest.raises(KeyError):
        seeds.over_seeds(stored, [2], "images")
