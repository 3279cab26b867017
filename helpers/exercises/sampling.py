"""Lesson 06's exercises: the RISE estimator from masks and scores, and the scores of the masked images."""

import torch

from .checking import Exercise, Mistake
from .gradients import small_network


def _estimator_cases(generator, device):
    """Scores in (0, 1) of N masked images, their masks (N, H, W) with values in [0, 1], and p."""
    cases = []
    for count, height, width, keep in ((50, 6, 8, 0.5), (7, 3, 3, 0.25)):
        scores = torch.rand(count, generator=generator)
        masks = (torch.rand(count, height, width, generator=generator) < keep).float()
        masks = masks * (0.5 + 0.5 * torch.rand(count, 1, 1, generator=generator))  # soft, like upsampled masks
        cases.append((scores.to(device), masks.to(device), keep))
    return cases


def _estimator(scores, masks, keep):
    return torch.einsum("n,nhw->hw", scores, masks) / (len(scores) * keep)


def _masked_cases(generator, device):
    model = small_network(generator, device)
    images = torch.rand(2, 3, 24, 20, generator=generator).to(device)
    masks = (torch.rand(6, 24, 20, generator=generator) < 0.5).float().to(device)
    return [(model, images[0], masks, 2), (model, images[1], masks[:1], 4)]


def _probabilities(model, image, masks, target, dim=1):
    with torch.no_grad():
        return model(image[None] * masks[:, None]).softmax(dim=dim)[:, target]


EXERCISES = {
    "rise_estimator": Exercise(
        "my_rise_estimator(scores, masks, keep)", _estimator_cases, _estimator,
        (Mistake(lambda s, m, p: torch.einsum("n,nhw->hw", s, m),
                 "Divide the weighted sum by N p: N masks, each keeping a pixel with probability p."),
         Mistake(lambda s, m, p: torch.einsum("n,nhw->hw", s, m) / len(s),
                 "Divide by N p, not only N: a pixel is kept in only about p N of the masks."),
         Mistake(lambda s, m, p: torch.einsum("n,nhw->hw", s, m) / p,
                 "Divide by N p: you left out the number of masks N."),
         Mistake(lambda s, m, p: torch.einsum("n,nhw->hw", s, m) / m.sum(dim=0).clamp(min=1e-12),
                 "The paper divides by the expected number of times a pixel is kept, N p, not by the sum of the "
                 "masks actually drawn."),
         Mistake(lambda s, m, p: torch.einsum("n,nhw->hw", s, 1 - m) / (len(s) * p),
                 "Weigh each mask M_i by the score, where it *keeps* the image (M = 1), not its complement.")),
        "50 and 7 soft masks, p = 0.5 and 0.25"),
    "masked_scores": Exercise(
        "my_masked_scores(model, image, masks, target)", _masked_cases, _probabilities,
        (Mistake(lambda model, image, masks, target: model(image[None] * masks[:, None])[:, target].detach(),
                 "RISE weighs the masks by the class's softmax probability, not by its raw logit."),
         Mistake(lambda model, image, masks, target: _probabilities(model, image, masks, target, dim=0),
                 "Take the softmax over the classes (dim=1), one distribution per masked image."),
         Mistake(lambda model, image, masks, target: _probabilities(model, image, torch.ones_like(masks), target),
                 "Multiply the image by each mask before the forward pass.")),
        "a small network, 6 masks and 1", atol=1e-5),
}
