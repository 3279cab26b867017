"""Lesson 04's exercises: Grad-CAM from a layer's activations and gradients, and those gradients themselves."""

import torch

from ..gradcam import class_gradients
from ..models import GapNet
from .checking import Exercise, Mistake


def _activation_cases(generator, device):
    """Activations (B, K, h, w) after a ReLU and gradients of either sign, on non-square grids."""
    cases = []
    for batch, channels, height, width in ((4, 6, 5, 7), (1, 3, 2, 2)):
        activations = torch.randn(batch, channels, height, width, generator=generator).relu()
        gradients = torch.randn(batch, channels, height, width, generator=generator) + 0.3
        cases.append((activations.to(device), gradients.to(device)))
    return cases


def _weighted(activations, weights):
    return torch.einsum("bkhw,bk->bhw", activations, weights)


def _grad_cam(activations, gradients):
    return _weighted(activations, gradients.mean(dim=(2, 3))).relu()


def small_network(generator, device):
    """A GAP network of width 4 for 5 classes, in eval mode, its weights drawn from ``generator``."""
    model = GapNet(classes=5, width=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model.eval().to(device)


def _model_cases(generator, device):
    """The small network, images, and classes that are not the predicted ones, at two layers."""
    model = small_network(generator, device)
    images = torch.rand(3, 3, 24, 20, generator=generator).to(device)
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    classes = (predicted + 1 + torch.arange(3, device=device) % 3) % 5  # never the predicted class
    return [(model, images, classes, "backbone.14"), (model, images[:1], classes[:1], "backbone.17")]


def _gradients_of(score):
    """The right (activations, gradients) with the class score replaced by ``score(logits, classes)``."""
    def answer(model, images, classes, layer):
        captured = []
        handle = model.get_submodule(layer).register_forward_hook(lambda module, inputs, output: captured.append(output))
        try:
            logits = model(images)
        finally:
            handle.remove()
        gradients, = torch.autograd.grad(score(logits, classes).sum(), captured[0])
        return captured[0].detach(), gradients
    return answer


def _layer_gradients(model, images, classes, layer):
    found = class_gradients(model, images, classes, layer)
    return found.activations, found.grads[:, 0]


EXERCISES = {
    "grad_cam": Exercise(
        "my_grad_cam(activations, gradients)", _activation_cases, _grad_cam,
        (Mistake(lambda a, g: _weighted(a, g.mean(dim=(2, 3))),
                 "Grad-CAM keeps only the positive evidence: apply a ReLU to the weighted sum."),
         Mistake(lambda a, g: _weighted(a, g.sum(dim=(2, 3))).relu(),
                 "alpha_k averages the gradient over the h * w cells (a mean, not a sum)."),
         Mistake(lambda a, g: _weighted(a, g.relu().mean(dim=(2, 3))).relu(),
                 "Average the gradients as they are, negative ones included; only the final map is rectified."),
         Mistake(lambda a, g: (a * g).sum(dim=1).relu(),
                 "Pool each channel's gradient first: alpha_k is one number per channel, not a weight per cell."),
         Mistake(lambda a, g: _weighted(a, g.mean(dim=(2, 3))).relu() / _weighted(a, g.mean(dim=(2, 3))).relu()
                 .flatten(1).amax(dim=1).clamp(min=1e-12).view(-1, 1, 1),
                 "Return the map before any normalisation; dividing by the maximum is for drawing.")),
        "batches of 4 and 1, gradients of both signs"),
    "layer_gradients": Exercise(
        "my_layer_gradients(model, images, classes, layer)", _model_cases, _layer_gradients,
        (Mistake(_gradients_of(lambda logits, c: logits.softmax(dim=1).gather(1, c[:, None])),
                 "Differentiate the logit y^c, before the softmax: the probability's gradient also depends on "
                 "every other class."),
         Mistake(_gradients_of(lambda logits, c: logits.log_softmax(dim=1).gather(1, c[:, None])),
                 "Differentiate the logit y^c itself, not its log-probability (which subtracts the log-sum-exp of "
                 "every class)."),
         Mistake(_gradients_of(lambda logits, c: logits),
                 "Differentiate only the requested class's logit of each image, not the sum of all logits."),
         Mistake(_gradients_of(lambda logits, c: logits.gather(1, logits.argmax(dim=1, keepdim=True))),
                 "Use the classes you are given, not the predicted ones.")),
        "a small GAP network at two layers, classes other than the predicted ones", atol=1e-4),
}
