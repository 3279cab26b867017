"""helpers.layers: the map a classifier's head reads, on hand-made cases (torchvision's zoo: tests/test_zoo.py)."""

import pytest
import torch
from torch import nn

from helpers.device import set_seed
from helpers.layers import default_layer, find_head
from helpers.models import FlattenNet, GapNet, TwoHeadNet


def hooks_of(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_the_lesson_networks_and_the_imagenet_model(imagenet, photos):
    set_seed(0)
    image = torch.rand(1, 3, 64, 64)
    for net in (GapNet(6, width=2), FlattenNet(6, width=2), TwoHeadNet(6, width=2)):
        head = find_head(net.eval(), image)
        assert head.layer == "backbone" and head.shape == (8, 16, 16)
    head = find_head(imagenet.model, photos.images[:2])
    assert head.layer == "bn2" and head.shape == (1280, 7, 7)
    assert [step.kind for step in head.after] == ["AdaptiveAvgPool2d", "Flatten", "Linear"]


def test_an_in_place_relu_is_the_layer_and_pass_through_modules_are_not():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Identity(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    assert default_layer(net, torch.rand(2, 3, 8, 8)) == "1"  # the ReLU changed the conv's output in place


def test_a_module_that_runs_twice_is_passed_over():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.relu, self.fc = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.relu(self.conv2(self.relu(self.conv1(x)))).mean((2, 3)))

    assert default_layer(Shared().eval(), torch.rand(1, 3, 10, 10)) == "conv2"


def test_layers_after_the_global_pooling_do_not_count():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1),
                        nn.Flatten()).eval()  # a 1 x 1 convolution as the classifier, on the pooled map
    head = find_head(net, torch.rand(1, 3, 9, 9))
    assert head.layer == "0" and [step.name for step in head.after] == ["1", "2", "3", "4"]


def test_a_changed_model_is_traced_again():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    image = torch.rand(1, 3, 8, 8)
    assert default_layer(net, image) == "1"
    net[1] = nn.Identity()
    assert default_layer(net, image) == "0"
    assert find_head(net, torch.rand(1, 3, 12, 12)).shape == (4, 10, 10)  # another image size: another trace


def test_models_without_feature_maps_are_refused():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)).eval()
    with pytest.raises(ValueError, match="no layer of Sequential outputs a \\(B, K, h, w\\) feature map"):
        find_head(mlp, torch.rand(1, 3, 8, 8))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        find_head("resnet", torch.rand(1, 3, 8, 8))


def test_no_hook_survives_an_exception_inside_the_model():
    net = GapNet(6, width=2).eval()
    with pytest.raises(RuntimeError):
        find_head(net, torch.rand(1, 5, 32, 32))  # wrong channel count, raised in the first conv
    assert hooks_of(net) == 0
