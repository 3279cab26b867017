"""Grad-CAM: the identity with CAM, batched classes, gradients stopping at the layer, hooks, bad input."""

import gc
import warnings

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from helpers.cam import cam
from helpers.device import set_seed
from helpers.gradcam import contributions, grad_cam, resolve_layer
from helpers.models import FlattenNet, GapNet


@pytest.fixture(scope="module")
def gap_net():
    set_seed(0)
    net = GapNet(6, width=4).eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return net


@pytest.fixture(scope="module")
def resnet():
    set_seed(0)
    return resnet18(num_classes=10).eval()


def test_grad_cam_is_relu_cam_over_z_on_a_gap_network(gap_net):
    images = torch.rand(4, 3, 48, 48)
    classes = torch.tensor([[0, 3], [1, 1], [5, 2], [4, 0]])
    grad = grad_cam(gap_net, images, classes, layer="backbone")  # the features that are pooled
    reference = cam(gap_net, images, classes)
    z = reference.maps.shape[-1] * reference.maps.shape[-2]
    scale = reference.maps.abs().max()
    assert torch.allclose(grad.maps, reference.maps.clamp(min=0) / z, atol=1e-6 * scale)
    assert torch.allclose(grad.raw, reference.maps / z, atol=1e-6 * scale)
    assert torch.allclose(grad.weights, gap_net.classifier.weight[classes] / z, atol=1e-7)


def test_counterfactual_negates_the_weights(gap_net):
    images = torch.rand(2, 3, 32, 32)
    plain = grad_cam(gap_net, images, torch.tensor([1, 2]), layer="backbone")
    counter = grad_cam(gap_net, images, torch.tensor([1, 2]), layer="backbone", counterfactual=True)
    assert torch.allclose(counter.raw, -plain.raw) and torch.allclose(counter.maps, (-plain.raw).clamp(min=0))


def test_top_explains_each_images_best_classes_in_order(resnet):
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        best = resnet(images).topk(4, dim=1).indices
    top = grad_cam(resnet, images, layer="layer4", top=4)
    given = grad_cam(resnet, images, best, layer="layer4")
    assert torch.equal(top.classes, best) and torch.equal(top.raw, given.raw)
    assert torch.equal(grad_cam(resnet, images, layer="layer4", top=1).maps, grad_cam(resnet, images).maps)
    with pytest.raises(ValueError, match="not both"):
        grad_cam(resnet, images, best, top=2)
    with pytest.raises(ValueError, match="at most the number of classes, 10"):
        grad_cam(resnet, images, top=11)
    with pytest.raises(ValueError, match="top"):
        grad_cam(resnet, images, top=0)


def test_batched_classes_equal_single_calls(resnet):
    images = torch.rand(3, 3, 64, 64)
    classes = torch.tensor([[0, 9, 4], [2, 2, 7], [5, 1, 3]])
    batched = grad_cam(resnet, images, classes, layer="layer4")
    for b in range(3):
        for k in range(3):
            single = grad_cam(resnet, images[b:b + 1], classes[b, k:k + 1], layer=resnet.layer4)
            assert torch.allclose(batched.raw[b, k], single.raw[0, 0], atol=1e-5 * single.raw.abs().max() + 1e-9)


def test_default_class_is_the_prediction_and_default_layer_the_map_the_head_reads(resnet, gap_net):
    images = torch.rand(2, 3, 64, 64)
    result = grad_cam(resnet, images)
    assert torch.equal(result.classes[:, 0], resnet(images).argmax(dim=1))
    assert result.maps.shape == (2, 1, 2, 2)  # layer4 of a 64 x 64 image
    assert torch.equal(result.raw, grad_cam(resnet, images, layer="layer4").raw)
    assert resolve_layer(resnet, images=images) is resnet.layer4
    assert resolve_layer(gap_net, images=images) is gap_net.backbone
    with pytest.raises(ValueError, match="pass images"):
        resolve_layer(resnet)


def test_default_is_the_identity_with_cam_on_the_imagenet_model(imagenet, photos):
    images, classes = photos.images[:2], torch.tensor([285, 967])
    grad, reference = grad_cam(imagenet.model, images, classes), cam(imagenet.model, images, classes)
    scale = reference.maps.abs().max()
    assert torch.allclose(grad.raw, reference.maps / 49, atol=1e-5 * scale)  # bn2's 7 x 7 map: Z = 49


class Tiny(nn.Module):
    """conv -> ReLU -> conv (the layer) -> [ReLU] -> [residual sum] -> GAP -> linear, in place or not."""

    def __init__(self, inplace, residual):
        super().__init__()
        self.inplace, self.residual = inplace, residual
        self.stem, self.layer, self.fc = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Linear(4, 3)
        self.relu = nn.ReLU(inplace=inplace)

    def forward(self, images):
        x = torch.relu(self.stem(images))
        out = self.layer(x)
        if self.residual:
            if self.inplace:
                out += x
            else:
                out = out + x
        return self.fc(self.relu(out).mean((2, 3)))


@pytest.mark.parametrize("residual", [False, True], ids=["relu", "residual sum and relu"])
def test_in_place_operations_after_the_layer_give_the_same_maps(residual):
    set_seed(0)
    plain = Tiny(inplace=False, residual=residual).eval()
    in_place = Tiny(inplace=True, residual=residual).eval()
    in_place.load_state_dict(plain.state_dict())
    images, classes = torch.rand(3, 3, 10, 10) - 0.5, torch.tensor([[0, 2], [1, 1], [2, 0]])
    expected = grad_cam(plain, images, classes, layer="layer")
    result = grad_cam(in_place, images, classes, layer="layer")
    with torch.no_grad():
        activations = plain.layer(torch.relu(plain.stem(images)))
    assert (activations < 0).any()  # the ReLU after the layer has something to change
    assert torch.allclose(result.raw, expected.raw, atol=1e-6) and torch.allclose(result.weights, expected.weights)
    # the paper's map by hand: A as the layer made it, gradients of the logit by full autograd
    a = activations.detach().requires_grad_(True)
    x = torch.relu(plain.stem(images)).detach()
    out = a + x if residual else a
    logits = plain.fc(torch.relu(out).mean((2, 3)))
    by_hand = []
    for k in range(2):
        (grad,) = torch.autograd.grad(logits.gather(1, classes[:, k:k + 1]).sum(), a, retain_graph=True)
        by_hand.append(torch.einsum("bc,bchw->bhw", grad.mean((2, 3)), a.detach()))
    assert torch.allclose(result.raw, torch.stack(by_hand, 1), atol=1e-6)
    assert all(p.grad is None for p in in_place.parameters()) and hooks_of(in_place) == 0


def test_parameters_get_no_gradient_and_input_grad_is_untouched(resnet):
    images = torch.rand(2, 3, 64, 64)
    grad_cam(resnet, images, layer="layer3")
    assert all(p.grad is None for p in resnet.parameters())
    assert images.grad is None and not images.requires_grad


def test_works_on_the_flatten_network_where_cam_cannot():
    set_seed(0)
    net = FlattenNet(6, width=2).eval()
    result = grad_cam(net, torch.rand(2, 3, 64, 64), torch.tensor([0, 5]), layer="backbone")
    assert result.maps.shape == (2, 1, 16, 16) and (result.maps >= 0).all()
    with pytest.raises(ValueError, match="global average pooling"):
        cam(net, torch.rand(1, 3, 64, 64))
    assert grad_cam(net, torch.rand(1, 3, 64, 64)).maps.shape == (1, 1, 16, 16)  # default: the backbone's map


def test_frozen_parameters_still_give_maps(gap_net):
    frozen = GapNet(6, width=4).eval()
    frozen.load_state_dict(gap_net.state_dict())
    frozen.requires_grad_(False)
    images = torch.rand(1, 3, 32, 32)
    assert torch.allclose(grad_cam(frozen, images, layer="backbone").raw,
                          grad_cam(gap_net, images, layer="backbone").raw)


@pytest.mark.parametrize("images, classes, layer, error, match", [
    (torch.rand(3, 32, 32), None, None, ValueError, "\\(B, C, H, W\\)"),
    (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), None, None, TypeError, "floating-point"),
    (torch.rand(2, 3, 32, 32), torch.tensor([0, 6]), None, ValueError, "class indices must be in \\[0, 5\\]"),
    (torch.rand(2, 3, 32, 32), torch.tensor([[0], [1], [2]]), None, ValueError, "shape \\(B,\\) or \\(B, K\\)"),
    (torch.rand(2, 3, 32, 32), torch.tensor([0.5, 1.0]), None, TypeError, "integer class indices"),
    (torch.rand(1, 3, 32, 32), None, "backbone.99", ValueError, "no layer named"),
    (torch.rand(1, 3, 32, 32), None, nn.Conv2d(3, 3, 1), ValueError, "not part of"),
    (torch.rand(1, 3, 32, 32), None, 3, TypeError, "layer must be"),
    (torch.rand(1, 3, 32, 32), None, "classifier", ValueError, "feature maps"),
    (torch.rand(2, 3, 32, 32).index_put_((torch.tensor([1]),), torch.tensor(float("nan"))), None, None, ValueError,
     "1 of the 2 images hold NaN or infinite"),
    (torch.full((3, 3, 32, 32), float("inf")), None, "backbone", ValueError, "3 of the 3 images hold NaN or infinite"),
])
def test_bad_input(gap_net, images, classes, layer, error, match):
    with pytest.raises(error, match=match):
        grad_cam(gap_net, images, classes, layer=layer)


def test_train_mode_is_refused():
    set_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="call model.eval"):
        grad_cam(net, torch.rand(1, 3, 8, 8), layer="0")


def hooks_of(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_no_hook_survives_an_exception_inside_the_model(gap_net):
    with pytest.raises(RuntimeError):
        grad_cam(gap_net, torch.rand(1, 5, 32, 32), layer="backbone")  # wrong channel count, raised in a conv
    with pytest.raises(ValueError):
        grad_cam(gap_net, torch.rand(1, 3, 32, 32), layer="classifier")  # raised inside the hook
    assert hooks_of(gap_net) == 0


def test_the_callers_grad_mode_is_kept(gap_net):
    images = torch.rand(2, 3, 32, 32)
    expected = grad_cam(gap_net, images, layer="backbone.12").maps
    for mode in (False, True):
        with torch.set_grad_enabled(mode):
            assert torch.equal(grad_cam(gap_net, images, layer="backbone.12").maps, expected)
            assert torch.is_grad_enabled() == mode
            with pytest.raises(ValueError):
                grad_cam(gap_net, images, layer="classifier")  # raised inside the hook, after it turned grad on
            assert torch.is_grad_enabled() == mode


def test_a_thousand_calls_leave_no_hooks_and_no_growing_memory(gap_net):
    images = torch.rand(2, 3, 16, 16)

    def tensors():
        gc.collect()
        with warnings.catch_warnings():  # isinstance on some deprecated torch objects warns
            warnings.simplefilter("ignore", FutureWarning)
            return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))

    for _ in range(20):
        grad_cam(gap_net, images, layer="backbone")
    before = tensors()
    for _ in range(1000):
        grad_cam(gap_net, images, layer="backbone")
    assert hooks_of(gap_net) == 0
    assert tensors() <= before + 5


def test_imagenet_model_several_classes(imagenet, photos):
    images = photos.images[:2]
    result = grad_cam(imagenet.model, images, torch.tensor([[285, 967], [872, 1]]))
    assert result.maps.shape == (2, 2, 7, 7) and torch.isfinite(result.raw).all()
    single = grad_cam(imagenet.model, images[:1], torch.tensor([967]))
    assert torch.allclose(result.raw[0, 1], single.raw[0, 0], atol=1e-5 * single.raw.abs().max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_the_gpu_everything_stays_there_and_matches_the_cpu(resnet):
    images = torch.rand(2, 3, 64, 64)
    classes = torch.tensor([[1, 2], [3, 4]])
    on_cpu = grad_cam(resnet, images, classes, layer="layer4")
    gpu_net = resnet18(num_classes=10).eval()
    gpu_net.load_state_dict(resnet.state_dict())
    on_gpu = grad_cam(gpu_net.cuda(), images.cuda(), classes.cuda(), layer="layer4")
    assert on_gpu.maps.is_cuda and on_gpu.weights.is_cuda
    assert torch.allclose(on_gpu.raw.cpu(), on_cpu.raw, atol=1e-4 * on_cpu.raw.abs().max())


def test_contributions_are_cam_over_z_on_a_gap_network(gap_net):
    images, classes = torch.rand(3, 3, 32, 32), torch.tensor([[0, 5], [2, 2], [4, 1]])
    cells = contributions(gap_net, images, classes, layer="backbone")
    reference = cam(gap_net, images, classes)
    z = reference.maps.shape[-1] * reference.maps.shape[-2]
    scale = float(reference.maps.abs().max())
    assert torch.allclose(cells, reference.maps / z, atol=1e-6 * scale)
    assert torch.allclose(cells, grad_cam(gap_net, images, classes, layer="backbone").raw, atol=1e-6 * scale)


def test_contributions_add_up_to_the_logit_of_a_linear_head_and_keep_positions():
    set_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3, bias=False)).eval()
    images = torch.rand(2, 3, 6, 6)
    cells = contributions(net, images, torch.tensor([2, 0]), layer="1")
    logits = net(images).detach()
    assert torch.allclose(cells.sum(dim=(2, 3))[:, 0], logits[[0, 1], [2, 0]], atol=1e-5)
    with torch.no_grad():  # by hand: the head's weight for each channel and cell times the activation there
        activations = net[1](net[0](images))
        weight = net[3].weight.view(3, 4, 6, 6)
    assert torch.allclose(cells[0, 0], (weight[2] * activations[0]).sum(0), atol=1e-6)
    assert not torch.allclose(cells[0, 0], grad_cam(net, images[:1], torch.tensor([2]), layer="1").raw[0, 0])
