import shutil

import pytest
import torch
from torch import nn

from helpers.data import class_index
from helpers.device import set_seed
from helpers.models import (
    EFFICIENTNET_LITE0_SHA256,
    Backbone,
    FlattenNet,
    GapNet,
    NinNet,
    TwoHeadNet,
    _packaged_weights,
    find_last_conv,
    imagenet_model,
    sha256_of,
)


def test_packaged_weights_match_the_pinned_checksum():
    assert sha256_of(_packaged_weights()) == EFFICIENTNET_LITE0_SHA256


def test_model_is_ready_for_inference(imagenet):
    assert not imagenet.model.training
    assert len(imagenet.categories) == 1000 and imagenet.categories[285] == "Egyptian cat"
    assert imagenet.normalization.mean == (0.5, 0.5, 0.5) and imagenet.normalization.std == (0.5, 0.5, 0.5)
    assert all(p.device.type == "cpu" for p in imagenet.model.parameters())


def test_top1_is_right_on_at_least_five_photos(imagenet, photos):
    with torch.no_grad():
        predicted = imagenet.model(photos.images).argmax(dim=1)
    labelled = photos.classes >= 0
    right = (predicted == photos.classes) & labelled
    print({name: imagenet.categories[int(p)] for name, p in zip(photos.names, predicted)})
    assert int(right.sum()) >= 5
    assert predicted[photos.names.index("chelsea")] in range(281, 286)  # a cat


def test_probabilities_on_known_photos(imagenet, photos):
    """The figures quoted in the course (squashed to 224, antialiased bilinear)."""
    with torch.no_grad():
        probabilities = imagenet.model(photos.images).softmax(dim=1)
    chelsea, coffee = photos.names.index("chelsea"), photos.names.index("coffee")
    assert probabilities[chelsea, class_index("Egyptian cat", imagenet.categories)] == pytest.approx(0.79, abs=0.01)
    assert probabilities[coffee, class_index("espresso", imagenet.categories)] == pytest.approx(0.88, abs=0.01)


def test_checksum_mismatch_is_refused(tmp_path):
    corrupted = tmp_path / "weights.pth"
    shutil.copyfile(_packaged_weights(), corrupted)
    with open(corrupted, "r+b") as file:
        file.seek(1000)
        byte = file.read(1)
        file.seek(1000)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum mismatch"):
        imagenet_model(weights=corrupted)


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        imagenet_model(weights=tmp_path / "nothing.pth")


def test_find_last_conv():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 5, 3), nn.ReLU()),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2))
    assert find_last_conv(model) == "2.0"
    assert isinstance(model.get_submodule(find_last_conv(model)), nn.Conv2d)


def test_find_last_conv_on_the_imagenet_model(imagenet):
    name = find_last_conv(imagenet.model)
    assert name == "conv_head"
    assert imagenet.model.get_submodule(name).out_channels == imagenet.model.classifier.in_features


def test_find_last_conv_bad_inputs():
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        find_last_conv(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(TypeError, match="nn.Module"):
        find_last_conv("resnet")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_model_agrees_with_cpu(imagenet, photos):
    """Same photos, same weights: the GPU's probabilities equal the CPU's in full float32 (set_seed turns TF32 off)."""
    set_seed(0)
    gpu = imagenet_model(device="cuda")
    assert all(p.device.type == "cuda" for p in gpu.model.parameters())
    with torch.no_grad():
        on_cpu = imagenet.model(photos.images).softmax(dim=1)
        on_gpu = gpu.model(photos.images.cuda()).softmax(dim=1)
    assert on_gpu.device.type == "cuda"
    print(f"largest CPU/GPU probability difference: {(on_gpu.cpu() - on_cpu).abs().max():.2e}")
    assert torch.equal(on_gpu.argmax(dim=1).cpu(), on_cpu.argmax(dim=1))
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-4)


def test_backbone_shapes_and_receptive_field_claim():
    backbone = Backbone(width=4)
    assert backbone(torch.zeros(2, 3, 64, 40)).shape == (2, 16, 16, 10)
    assert backbone.out_channels == 16
    # a change in one input pixel reaches final cells at most 16 px away (receptive field 32)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    backbone.eval()
    backbone(x)[0, :, 8, 8].sum().backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = touched.any(dim=1).nonzero(), touched.any(dim=0).nonzero()
    assert 16 < rows.max() - rows.min() + 1 <= 32 and 16 < cols.max() - cols.min() + 1 <= 32
    with pytest.raises(ValueError, match="width"):
        Backbone(width=0)


def test_two_head_net_outputs_and_predict():
    torch.manual_seed(0)
    model = TwoHeadNet(classes=6, size=64, width=4).eval()
    images = torch.rand(3, 3, 64, 64)
    logits, boxes = model(images)
    assert logits.shape == (3, 6) and boxes.shape == (3, 4)
    assert ((boxes >= 0) & (boxes <= 1)).all()
    labels, pixel_boxes = model.predict(images)
    assert torch.equal(labels, logits.argmax(1))
    assert ((pixel_boxes >= 0) & (pixel_boxes <= 64)).all()
    assert (pixel_boxes[:, 2:] >= pixel_boxes[:, :2]).all()
    with pytest.raises(ValueError, match="multiple of 8"):
        TwoHeadNet(classes=6, size=60)


def test_gap_net_is_the_cam_architecture_and_takes_any_size():
    torch.manual_seed(0)
    model = GapNet(classes=6, width=4).eval()
    head = sum(p.numel() for p in model.classifier.parameters())
    assert head == (16 + 1) * 6
    for size in (64, 96, 128):
        assert model(torch.rand(2, 3, size, size)).shape == (2, 6)
    # the score is the linear layer applied to the spatial mean of the last features
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        features = model.backbone(images)
        expected = features.mean(dim=(2, 3)) @ model.classifier.weight.T + model.classifier.bias
        assert torch.allclose(model(images), expected, atol=1e-5)


def test_flatten_net_is_tied_to_its_input_size():
    torch.manual_seed(0)
    model = FlattenNet(classes=6, size=64, width=4).eval()
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 6)
    head = sum(p.numel() for p in model.head.parameters()) + sum(p.numel() for p in model.classifier.parameters())
    assert head == 16 * 16 * 16 * 128 + 128 + 128 * 6 + 6
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        model(torch.rand(1, 3, 96, 96))
    with pytest.raises(ValueError, match="multiple of 4"):
        FlattenNet(classes=6, size=66)


def test_nin_net_scores_are_the_means_of_rectified_class_maps():
    torch.manual_seed(0)
    model = NinNet(classes=6, width=4).eval()
    conv = model.class_maps[0]
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in model.backbone.parameters()) == (16 + 1) * 6
    images = torch.rand(3, 3, 48, 48)
    with torch.no_grad():
        features = model.backbone(images)
        maps = torch.einsum("ck,bkhw->bchw", conv.weight[:, :, 0, 0], features) + conv.bias[:, None, None]
        assert torch.allclose(model(images), maps.clamp(min=0).mean(dim=(2, 3)), atol=1e-5)
        assert (model(images) >= 0).all()
        # without the ReLU, a 1 x 1 convolution then the mean is the mean then a linear layer: GapNet's head
        gap = GapNet(classes=6, width=4).eval()
        gap.backbone.load_state_dict(model.backbone.state_dict())
        gap.classifier.weight.copy_(conv.weight[:, :, 0, 0])
        gap.classifier.bias.copy_(conv.bias)
        assert torch.allclose(gap(images), maps.mean(dim=(2, 3)), atol=1e-5)
        assert not torch.allclose(gap(images), model(images), atol=1e-3)  # the ReLU does change the scores here
