"""CAM: the map's mean plus the bias is the logit; batched calls equal single calls; bad input is refused."""

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from helpers.cam import cam, linear_head, upsample
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


class FunctionalHead(nn.Module):
    """conv -> ReLU (functional, in place or not) -> x.mean((2, 3)) -> Dropout -> Linear -> Dropout -> Linear."""

    def __init__(self, inplace):
        super().__init__()
        self.inplace = inplace
        self.conv = nn.Conv2d(3, 5, 3)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(5, 4), nn.Dropout(0.2), nn.Linear(4, 3))

    def forward(self, images):
        features = torch.nn.functional.relu(self.conv(images), inplace=self.inplace)
        return self.head(features.mean((2, 3)))


@pytest.mark.parametrize("inplace", [True, False])
def test_functional_pooling_a_relu_before_it_and_stacked_linear_layers(inplace):
    set_seed(0)
    net = FunctionalHead(inplace).eval()
    images = torch.rand(3, 3, 12, 12)
    result = cam(net, images, torch.tensor([0, 2, 1]))
    first, second = net.head[1], net.head[3]
    weight, bias = second.weight @ first.weight, second.weight @ first.bias + second.bias
    features = torch.relu(net.conv(images))  # the map that is pooled: after the ReLU
    expected = torch.einsum("bchw,bc->bhw", features, weight[[0, 2, 1]])
    assert torch.allclose(result.maps[:, 0], expected, atol=1e-6)
    assert torch.allclose(result.bias[:, 0], bias[[0, 2, 1]], atol=1e-6)
    assert torch.allclose(result.maps.mean(dim=(2, 3)) + result.bias, result.logits.gather(1, result.classes),
                          atol=1e-5)


@pytest.mark.parametrize(
    "head, match",
    [
        (nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4), nn.Hardswish(), nn.Linear(4, 2)),
         "after the map at '0', '4' \\(Hardswish\\) is not linear"),
        (nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4, 2)), "takes maxima, not means"),
        (nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 2)), "pools to 2 x 2, not globally"),
        (nn.Sequential(nn.Flatten(), nn.Linear(4 * 14 * 14, 2)), "flattens a 14 x 14 map"),
        (nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), "no nn.Linear runs after the map"),
    ],
)
def test_heads_that_are_not_linear_in_the_mean_are_refused_by_name(head, match):
    set_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), *head).eval()
    with pytest.raises(ValueError, match=match) as error:
        cam(net, torch.rand(1, 3, 16, 16))
    assert "Grad-CAM" in str(error.value)


def test_the_lesson_networks_without_a_gap_head_are_refused():
    set_seed(0)
    with pytest.raises(ValueError, match="'head.0' \\(Flatten\\) flattens a 16 x 16 map"):
        cam(FlattenNet(6, width=2).eval(), torch.rand(1, 3, 64, 64))


def test_a_head_that_does_not_read_the_mean_is_caught_numerically():
    class Scaled(nn.Module):  # pools with a functional sum: affine in the mean, but not the mean the weights see
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

        def forward(self, images):
            return self.fc(self.conv(images).sum((2, 3)))

    with pytest.raises(ValueError, match="does not read the spatial mean"):
        cam(Scaled().eval(), torch.rand(2, 3, 10, 10))


def test_linear_head_of_the_imagenet_model(imagenet, photos):
    layer, weight, bias, first = linear_head(imagenet.model, photos.images[:1])
    assert layer == "bn2" and first is imagenet.model.classifier
    assert torch.equal(weight, imagenet.model.classifier.weight) and torch.equal(bias, imagenet.model.classifier.bias)


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
    cam(gap_net, torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError):
        cam(gap_net, torch.rand(1, 3, 32, 32), torch.tensor([9]))
    with pytest.raises(RuntimeError):  # raised inside the model, while the hooks are on
        cam(gap_net, torch.rand(1, 5, 32, 32))
    assert not any(module._forward_hooks or module._forward_pre_hooks for module in gap_net.modules())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cam_on_the_gpu_stays_there_and_matches_the_cpu(gap_net):
    images = torch.rand(4, 3, 64, 64)
    on_cpu = cam(gap_net, images, torch.tensor([0, 1, 2, 3]))
    gpu_net = GapNet(6, width=4).eval()
    gpu_net.load_state_dict(gap_net.state_dict())
    on_gpu = cam(gpu_net.cuda(), images.cuda(), torch.tensor([0, 1, 2, 3], device="cuda"))
    assert on_gpu.maps.is_cuda and on_gpu.bias.is_cuda and on_gpu.classes.is_cuda
    assert torch.allclose(on_gpu.maps.cpu(), on_cpu.maps, atol=1e-4 * float(on_cpu.maps.abs().max()))
