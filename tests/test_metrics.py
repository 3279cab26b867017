import pytest
import torch

from helpers.metrics import accuracy, localization_accuracy, map_correlation


def test_accuracy_by_hand():
    assert accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 0])) == 0.5
    with pytest.raises(ValueError, match="same shape"):
        accuracy(torch.tensor([1, 2]), torch.tensor([1]))


def test_localization_needs_the_class_and_the_overlap():
    predicted = torch.tensor([0, 1, 2, 3])
    labels = torch.tensor([0, 1, 0, 3])
    ious = torch.tensor([0.9, 0.4, 0.9, 0.5])
    # right and overlapping; right but IoU too low; overlapping but wrong class; IoU exactly 0.5 counts
    assert localization_accuracy(predicted, labels, ious) == 0.5
    assert localization_accuracy(predicted, labels, ious, threshold=0.3) == 0.75
    with pytest.raises(ValueError, match="threshold"):
        localization_accuracy(predicted, labels, ious, threshold=1.5)
    with pytest.raises(ValueError, match="one shape"):
        localization_accuracy(predicted, labels, ious[:2])


def test_two_object_row_by_hand():
    from helpers.metrics import two_object_row

    pairs = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [40.0, 0.0, 50.0, 10.0]]]).expand(2, 2, 4)
    predicted = torch.tensor([[40.0, 0.0, 50.0, 10.0], [20.0, 0.0, 30.0, 10.0]])  # on the second / at the midpoint
    row = two_object_row(predicted, pairs)
    assert row == {"IoU >= 0.5 with either": 0.5, "mean best IoU": 0.5, "centre nearer the midpoint": 0.5}


def test_map_correlation_is_pearsons_r_of_each_pair():
    generator = torch.Generator().manual_seed(0)
    maps, references = torch.rand(3, 5, 4, generator=generator), torch.rand(3, 5, 4, generator=generator)
    expected = torch.stack([torch.corrcoef(torch.stack([m.flatten(), r.flatten()]))[0, 1]
                            for m, r in zip(maps, references)])
    assert torch.allclose(map_correlation(maps, references), expected, atol=1e-6)
    assert torch.allclose(map_correlation(maps, 3 * maps + 1), torch.ones(3), atol=1e-6)  # affine: r = 1
    assert torch.allclose(map_correlation(maps, -maps), -torch.ones(3), atol=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        map_correlation(maps, references[:2])

