"""RISE: the masks (against scikit-image, as the authors make them), the estimator, chunking, seeding, bad inputs."""

import numpy as np
import pytest
import torch
from skimage.transform import resize
from torch import nn

from helpers import rise as R


class RegionModel(nn.Module):
    """Two classes; the logit of class 0 is 8 x the mean of the image over one known region, class 1's is 0."""

    region = (slice(8, 16), slice(20, 28))

    def forward(self, x):
        inside = x[:, :, self.region[0], self.region[1]].mean(dim=(1, 2, 3))
        return torch.stack([8 * inside, torch.zeros_like(inside)], dim=1)


@pytest.fixture
def region_model():
    return RegionModel().eval()


def test_masks_are_the_authors_upsampled_and_cut_grids():
    # the authors: resize(grid, (s + 1) * cell, order=1, mode="reflect", anti_aliasing=False)[x:x + H, y:y + W]
    for (height, width), cells in (((224, 224), 7), ((100, 60), 5), ((32, 32), 1)):
        grids = R.sample_grids(6, cells, 0.5, seed=3)
        masks = R.masks_from(grids, (height, width))
        assert masks.shape == (6, height, width)
        cell = np.ceil(np.array([height, width]) / cells).astype(int)
        for i in range(6):
            up = resize(grids.cells[i].numpy().astype(float), tuple((cells + 1) * cell), order=1, mode="reflect",
                        anti_aliasing=False)
            x, y = (grids.offsets[i] * torch.tensor(cell)).long().tolist()
            assert 0 <= x < cell[0] and 0 <= y < cell[1]
            np.testing.assert_allclose(masks[i].numpy(), up[x:x + height, y:y + width], atol=1e-6)


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_mask_statistics(keep):
    masks = R.make_masks(2000, (64, 64), cells=7, keep=keep, seed=0)
    assert masks.min() >= 0 and masks.max() <= 1
    assert abs(masks.mean().item() - keep) < 0.01
    offsets = R.sample_grids(2000, 7, keep, seed=0).offsets * 10  # cell = 10 px for 64 / 7
    assert set(offsets.long().flatten().tolist()) == set(range(10))  # every offset in [0, cell) is drawn


def test_saliency_concentrates_on_the_only_region_the_model_reads(region_model):
    image = torch.ones(1, 3, 32, 32)
    result = R.rise(region_model, image, torch.tensor([0]), masks=2000, cells=4, keep=0.5, score="logit",
                    progress=False)
    saliency = result.maps[0, 0]
    region = torch.zeros(32, 32, dtype=torch.bool)
    region[RegionModel.region] = True
    assert saliency[region].mean() > 1.2 * saliency[~region].mean()
    assert region[divmod(saliency.argmax().item(), 32)]
    # the far corner's cells are drawn independently of the region's: its saliency is E[f] (within noise)
    masks = R.make_masks(2000, (32, 32), cells=4, keep=0.5, seed=0)
    mean_score = region_model(image * masks[:, None])[:, 0].mean()
    assert abs(saliency[-4:, :4].mean() - mean_score) < 0.03 * mean_score


def test_masks_of_ones_give_a_flat_map_equal_to_the_score(region_model):
    image = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    result = R.rise(region_model, image, torch.tensor([[0, 1], [1, 0]]), masks=10, keep=1.0, batch_size=3,
                    progress=False)
    expected = region_model(image).softmax(dim=1).gather(1, result.classes)  # f(I) / p, p = 1
    assert torch.allclose(result.maps, expected[..., None, None].expand_as(result.maps), atol=1e-6)
    assert torch.allclose(result.scores, expected)


def test_chunked_equals_a_direct_unchunked_reference_and_does_not_depend_on_the_batch_size():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5)).eval()
    images = torch.rand(2, 3, 24, 24)
    masks = R.make_masks(37, (24, 24), cells=3, keep=0.3, seed=7)
    with torch.no_grad():  # the formula, one mask at a time
        scores = torch.stack([model(images * m).softmax(dim=1) for m in masks])  # (N, B, classes)
    classes = torch.tensor([[1, 4], [0, 2]])
    reference = torch.stack([torch.stack([(scores[:, b, c, None, None] * masks).sum(0) for c in classes[b]])
                             for b in range(2)]) / (37 * 0.3)
    for batch_size in (1, 8, 37, 100):
        result = R.rise(model, images, classes, masks=37, cells=3, keep=0.3, seed=7, batch_size=batch_size,
                        progress=False)
        assert torch.allclose(result.maps, reference, atol=1e-6), batch_size
    single = R.rise(model, images[1:], classes[1:, 1], masks=37, cells=3, keep=0.3, seed=7, progress=False)
    assert torch.allclose(single.maps[0, 0], reference[1, 1], atol=1e-6)  # the batch shares the masks


def test_predicted_class_seed_and_scores(region_model):
    image = torch.ones(1, 3, 32, 32)
    first, again, other = (R.rise(region_model, image, masks=50, seed=s, progress=False) for s in (0, 0, 1))
    assert first.classes.tolist() == [[0]]  # logit 8 against 0
    assert torch.equal(first.maps, again.maps) and not torch.equal(first.maps, other.maps)
    logits = R.rise(region_model, image, masks=50, score="logit", progress=False)
    assert torch.allclose(logits.scores, torch.tensor([[8.0]]))
    sigmoid = R.rise(region_model, image, masks=50, score="sigmoid", progress=False)
    assert torch.allclose(sigmoid.scores, torch.tensor([[8.0]]).sigmoid())


def test_complementary_pairs_cover_every_pixel_exactly_and_each_half_is_the_papers_draw():
    grids = R.sample_grids(10, 7, 0.5, seed=4, sampling="complementary")
    masks = R.masks_from(grids, (40, 30))
    assert torch.allclose(masks[:5] + masks[5:], torch.ones(5, 40, 30), atol=1e-6)  # M and 1 - M
    plain = R.sample_grids(5, 7, 0.5, seed=4)
    assert torch.equal(grids.cells[:5], plain.cells) and torch.equal(grids.offsets[5:], plain.offsets)
    for options in ({"count": 9}, {"count": 10, "keep": 0.3}):
        with pytest.raises(ValueError, match="complementary masks need keep = 0.5"):
            R.sample_grids(**{"cells": 7, "keep": 0.5, **options, "sampling": "complementary"})


def _maps(model, image, masks, seeds, **options):
    return torch.stack([R.rise(model, image, torch.tensor([0]), masks=masks, cells=4, score="logit", seed=seed,
                               progress=False, **options).maps[0, 0] for seed in seeds])


@pytest.mark.parametrize("options", [{"estimator": "centred"}, {"sampling": "complementary"},
                                     {"estimator": "centred", "sampling": "complementary"}])
def test_the_variance_reductions_estimate_the_papers_map_with_less_noise(region_model, options):
    image = torch.ones(1, 3, 32, 32)
    reference = _maps(region_model, image, 20000, [100])[0]  # the paper's estimator, many masks
    paper, reduced = _maps(region_model, image, 20, range(300)), _maps(region_model, image, 20, range(300), **options)
    # the same expectation: 300 maps of 20 masks average to the reference within 5 standard errors at every pixel
    # (the reference's own error is that of one paper map over 1,000; a missing f_bar would shift the mean by 4)
    error = (reduced.var(dim=0) / 300 + paper.var(dim=0) / 1000).sqrt()
    assert ((reduced.mean(dim=0) - reference).abs() < 5 * error).all()
    assert ((paper.mean(dim=0) - reference).abs() < 5 * (paper.var(dim=0) / 300 + paper.var(dim=0) / 1000).sqrt()).all()
    # and far less noise around it
    noise = {name: (maps - reference).pow(2).mean().item() for name, maps in (("paper", paper), ("reduced", reduced))}
    assert noise["reduced"] < 0.6 * noise["paper"], noise  # 0.44 (centred), 0.27 (pairs) here


@pytest.mark.parametrize("options, match", [
    ({"estimator": "mean"}, "estimator must be one of"),
    ({"sampling": "sobol"}, "sampling must be one of"),
    ({"estimator": "centred", "masks": 1}, "needs at least 2 masks"),
    ({"masks": 0}, "count must be >= 1"),
    ({"keep": 0.0}, r"keep must be in \(0, 1\]"),
    ({"keep": 1.5}, r"keep must be in \(0, 1\]"),
    ({"cells": 0}, "cells must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"score": "softmax"}, "score must be one of"),
    ({"classes": torch.tensor([[0], [1]])}, "classes must have shape"),
    ({"classes": torch.tensor([2])}, "class indices must be in"),
])
def test_bad_arguments(region_model, options, match):
    with pytest.raises(ValueError, match=match):
        R.rise(region_model, torch.ones(1, 3, 32, 32), **{"masks": 10, "progress": False, **options})


def test_a_count_that_is_not_an_int(region_model):
    with pytest.raises(TypeError, match="masks must be an int|count must be an int"):
        R.rise(region_model, torch.ones(1, 3, 32, 32), masks=10.0, progress=False)


def test_bad_images(region_model):
    with pytest.raises(ValueError, match=r"images must be a \(B, C, H, W\) tensor"):
        R.rise(region_model, torch.ones(3, 32, 32), masks=10, progress=False)
    with pytest.raises(TypeError, match="floating-point"):
        R.rise(region_model, torch.ones(1, 3, 32, 32, dtype=torch.uint8), masks=10, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_the_gpu_masks_and_maps_stay_there():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    model = model.eval().cuda()
    images = torch.rand(2, 3, 32, 32, device="cuda")
    result = R.rise(model, images, masks=64, batch_size=16, progress=False)
    assert result.maps.device.type == "cuda" and result.maps.shape == (2, 1, 32, 32)
    masks = R.make_masks(64, (32, 32), seed=0, device="cuda")
    with torch.no_grad():
        scores = torch.stack([model(images * m).softmax(dim=1) for m in masks])  # (N, B, classes)
    picked = scores.gather(2, result.classes[None].expand(64, -1, -1))  # (N, B, 1)
    reference = (picked[..., None, None] * masks[:, None, None]).sum(0)  # (B, 1, H, W)
    assert torch.allclose(result.maps, reference / (64 * 0.5), atol=1e-5)


def test_agrees_with_torchray_given_the_same_masks():
    # TorchRay's RISE scores with a sigmoid and divides by N (not N p); its own masks differ from the
    # paper's (cells of ceil(H / s) pixels, not (s + 1) ceil(H / s) / s), so it is given ours.
    torchray_rise = pytest.importorskip("torchray.attribution.rise").rise
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5)).eval()
    images = torch.rand(2, 3, 28, 28)
    masks = R.make_masks(60, (28, 28), cells=4, keep=0.3, seed=5)
    theirs = torchray_rise(model, images, num_masks=60, num_cells=4, filter_masks=masks[:, None], batch_size=16)
    ours = R.rise(model, images, torch.arange(5).expand(2, 5), masks=60, cells=4, keep=0.3, seed=5, score="sigmoid",
                  batch_size=16, progress=False)
    assert torch.allclose(ours.maps * 0.3, theirs, atol=1e-6)
