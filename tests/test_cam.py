"""CAM: the map's mean plus the bias is the logit; batched calls equal single calls; bad input is refused."""

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from helpers.cam import cam, gap_and_linear, upsample
from helpers.device import set_seed
from helpers.models import FlattenNet, GapNet


@pytest.fixture(scope="module")
def gap_net():
    set_seed(0)
    net = GapNet(6, width=4).eval()
    with torch.no_grad():  # give batch norm non-trivial statistics and the bias non-zero values
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        net.classifier.bias.uniform_(-1, 1)
    return net


def test_mean_of_the_map_plus_bias_is_the_logit(gap_net):
    images = torch.rand(5, 3, 64, 64)
    result = cam(gap_net, images)
    assert result.maps.shape == (5, 6, 16, 16)
    assert torch.allclose(result.maps.mean(dim=(2, 3)) + result.bias, result.logits, atol=1e-5)
    assert torch.allclose(result.logits, gap_net(images), atol=1e-6)


def test_on_the_imagenet_model(imagenet, photos):
    images = photos.images[:3]
    result = cam(imagenet.model, images)
    assert result.maps.shape == (3, 1000, 7, 7)
    scale = result.logits.abs().max()
    assert (result.maps.mean(dim=(2, 3)) + result.bias - result.logits).abs().max() < 1e-5 * scale


def test_batched_classes_equal_single_calls(gap_net):
    images = torch.rand(3, 3, 48, 48)
    classes = torch.tensor([[0, 5], [2, 2], [4, 1]])
    batched = cam(gap_net, images, classes)
    everything = cam(gap_net, images)
    for b in range(3):
        for k in range(2):
            single = cam(gap_net, images[b:b + 1], classes[b, k:k + 1])
            assert torch.allclose(batched.maps[b, k], single.maps[0, 0], atol=1e-6)
            assert torch.allclose(batched.maps[b, k], everything.maps[b, classes[b, k]], atol=1e-6)
            assert batched.bias[b, k] == gap_net.classifier.bias[classes[b, k]]
    one_per_image = cam(gap_net, images, torch.tensor([3, 0, 1]))
    assert one_per_image.maps.shape == (3, 1, 12, 12)


def test_hand_computed_map():
    """Features from a fixed 1x1 convolution: M_c is w^c applied to the input pixels."""
    net = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3)).eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        net[3].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0]]))
        net[3].bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    result = cam(net, image)
    expected = torch.stack([image[0, 0], 2 * image[0, 1], image[0, 0] - image[0, 1]])
    assert torch.allclose(result.maps[0], expected)
    assert torch.allclose(result.bias[0], torch.tensor([0.5, 0.0, -1.0]))


def test_torchvision_resnet_is_a_gap_linear_model():
    set_seed(0)
    net = resnet18(num_classes=10).eval()
    result = cam(net, torch.rand(2, 3, 64, 64), torch.tensor([1, 7]))
    assert result.maps.shape == (2, 1, 2, 2)
    assert torch.allclose(result.maps.mean(dim=(2, 3)) + result.bias, result.logits.gather(1, result.classes),
                          atol=1e-5)


def test_upsample_to_the_input_size(gap_net):
    maps = cam(gap_net, torch.rand(2, 3, 64, 64)).maps
    big = upsample(maps, 64)
    assert big.shape == (2, 6, 64, 64)
    assert torch.allclose(big.mean(dim=(2, 3)), maps.mean(dim=(2, 3)), atol=1e-4)  # bilinear x4 keeps the mean
    with pytest.raises(ValueError, match="maps must have shape"):
        upsample(maps[0], 64)


def test_models_without_a_gap_linear_head_are_refused():
    set_seed(0)
    with pytest.raises(ValueError, match="global average pooling"):
        cam(FlattenNet(6, width=2).eval(), torch.rand(1, 3, 64, 64))
    extra = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4), nn.ReLU(),
                          nn.Linear(4, 2)).eval()
    with pytest.raises(ValueError, match="not a GAP \\+ linear head|not a linear function"):
        cam(extra, torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="global average pooling"):
        gap_and_linear(nn.Sequential(nn.Conv2d(3, 2, 1)))


@pytest.mark.parametrize(
    "images, classes, error, match",
    [
        (torch.rand(3, 64, 64), None, ValueError, "must be a \\(B, C, H, W\\) tensor"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), None, TypeError, "floating-point"),
        (torch.rand(2, 3, 64, 64), torch.tensor([0, 6]), ValueError, "class indices must be in \\[0, 5\\]"),
        (torch.rand(2, 3, 64, 64), torch.tensor([-1, 0]), ValueError, "class indices must be in"),
        (torch.rand(2, 3, 64, 64), torch.tensor([0, 1, 2]), ValueError, "shape \\(B,\\) or \\(B, K\\)"),
        (torch.rand(2, 3, 64, 64), torch.tensor([0.0, 1.0]), TypeError, "integer class indices"),
    ],
)
def test_bad_input(gap_net, images, classes, error, match):
    with pytest.raises(error, match=match):
        cam(gap_net, images, classes)


def test_train_mode_is_refused(gap_net):
    gap_net.train()
    try:
        with pytest.raises(ValueError, match="call model.eval"):
            cam(gap_net, torch.rand(1, 3, 32, 32))
    finally:
        gap_net.eval()


def test_no_hook_is_left_behind(gap_net):
    pool, _ = gap_and_linear(gap_net)
    cam(gap_net, torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError):
        cam(gap_net, torch.rand(1, 3, 32, 32), torch.tensor([9]))
    with pytest.raises(RuntimeError):  # raised inside the model, while the hook is on
        cam(gap_net, torch.rand(1, 5, 32, 32))
    assert not pool._forward_hooks


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cam_on_the_gpu_stays_there_and_matches_the_cpu(gap_net):
    images = torch.rand(4, 3, 64, 64)
    on_cpu = cam(gap_net, images, torch.tensor([0, 1, 2, 3]))
    gpu_net = GapNet(6, width=4).eval()
    gpu_net.load_state_dict(gap_net.state_dict())
    on_gpu = cam(gpu_net.cuda(), images.cuda(), torch.tensor([0, 1, 2, 3], device="cuda"))
    assert on_gpu.maps.is_cuda and on_gpu.bias.is_cuda and on_gpu.classes.is_cuda
    assert torch.allclose(on_gpu.maps.cpu(), on_cpu.maps, atol=1e-4 * float(on_cpu.maps.abs().max()))
