"""helpers.exercises: right answers pass, stubs are "not implemented yet", each known mistake gets its own hint."""

import pytest
import torch
import torch.nn.functional as F

from helpers import exercises


def area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def overlap(a, b):
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    return width * height


def good_iou(a, b):
    return overlap(a, b) / (area(a) + area(b) - overlap(a, b))


def iou_of_xywh(a, b):  # reads (x0, y0, x1, y1) as (x, y, w, h)
    def corners(boxes):
        return torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)
    return good_iou(corners(a), corners(b))


def iou_unclamped(a, b):
    width = torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])
    height = torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])
    return width * height / (area(a) + area(b) - width * height)


def iou_union_as_sum(a, b):
    return overlap(a, b) / (area(a) + area(b))


def iou_all_pairs(a, b):
    return torch.stack([good_iou(a[i:i + 1].expand_as(b), b) for i in range(len(a))])


def good_loss(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * ((predicted - target) ** 2).sum(dim=1).mean()


def loss_with_norm(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * torch.linalg.vector_norm(predicted - target, dim=1).mean()


def loss_mean_over_all(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + weight * F.mse_loss(predicted, target)


def loss_without_weight(logits, labels, predicted, target, weight):
    return F.cross_entropy(logits, labels) + ((predicted - target) ** 2).sum(dim=1).mean()


def loss_on_probabilities(logits, labels, predicted, target, weight):
    return F.cross_entropy(F.softmax(logits, dim=1), labels) + weight * ((predicted - target) ** 2).sum(dim=1).mean()


# Lesson 02 -------------------------------------------------------------------------------------------------------


def good_gap_logits(features, weight, bias):
    return features.mean(dim=(2, 3)) @ weight.T + bias


def gap_by_sum(features, weight, bias):
    return features.sum(dim=(2, 3)) @ weight.T + bias


def gap_by_max(features, weight, bias):
    return features.flatten(2).max(dim=2).values @ weight.T + bias


def gap_without_bias(features, weight, bias):
    return features.mean(dim=(2, 3)) @ weight.T


def gap_of_one_cell(features, weight, bias):
    return features[:, :, 0, 0] @ weight.T + bias


def good_head_parameters(channels, height, width, hidden, classes):
    return (channels * height * width + 1) * hidden + (hidden + 1) * classes, (channels + 1) * classes


def heads_without_biases(channels, height, width, hidden, classes):
    return channels * height * width * hidden + hidden * classes, channels * classes


def flatten_without_grid(channels, height, width, hidden, classes):
    return (channels + 1) * hidden + (hidden + 1) * classes, (channels + 1) * classes


def gap_per_cell(channels, height, width, hidden, classes):
    return good_head_parameters(channels, height, width, hidden, classes)[0], (channels * height * width + 1) * classes


# Lesson 03 -------------------------------------------------------------------------------------------------------


def good_cam(features, weight, classes):
    return (weight[classes][:, :, None, None] * features).sum(dim=1)


def cam_with_relu(features, weight, classes):
    return good_cam(features, weight, classes).clamp(min=0)


def cam_averaged(features, weight, classes):
    return (weight[classes][:, :, None, None] * features).mean(dim=1)


def cam_of_first_class(features, weight, classes):
    return (weight[classes[0]][None, :, None, None] * features).sum(dim=1)


def cam_of_all_classes(features, weight, classes):
    return (weight.sum(dim=0)[None, :, None, None] * features).sum(dim=1)


def cam_normalised(features, weight, classes):
    maps = good_cam(features, weight, classes)
    return maps / maps.amax(dim=(1, 2), keepdim=True)


def regions(kept, diagonal=True):
    """Labels of the connected regions of a boolean (H, W) tensor, by flood fill (tests only: small maps)."""
    height, width = kept.shape
    labels, count = torch.zeros(height, width, dtype=torch.long), 0
    steps = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0) and (diagonal or 0 in (dy, dx))]
    for y in range(height):
        for x in range(width):
            if kept[y, x] and not labels[y, x]:
                count += 1
                labels[y, x], todo = count, [(y, x)]
                while todo:
                    cy, cx = todo.pop()
                    for dy, dx in steps:
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < height and 0 <= nx < width and kept[ny, nx] and not labels[ny, nx]:
                            labels[ny, nx] = count
                            todo.append((ny, nx))
    return labels, count


def box_of(selected):
    rows, cols = torch.nonzero(selected, as_tuple=True)
    return torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=torch.float32)


def largest_region_box(kept, diagonal=True):
    labels, count = regions(kept.cpu(), diagonal)
    sizes = [(labels == k).sum().item() for k in range(1, count + 1)]
    return box_of(labels == 1 + sizes.index(max(sizes))).to(kept.device)


def good_box(heatmap, tau):
    return largest_region_box(heatmap >= tau * heatmap.max())


def box_of_everything_kept(heatmap, tau):
    return box_of((heatmap >= tau * heatmap.max()).cpu()).to(heatmap.device)


def box_with_absolute_tau(heatmap, tau):
    return largest_region_box(heatmap >= tau)


def box_inclusive(heatmap, tau):
    return good_box(heatmap, tau) - torch.tensor([0.0, 0.0, 1.0, 1.0], device=heatmap.device)


def box_yx(heatmap, tau):
    x0, y0, x1, y1 = good_box(heatmap, tau)
    return torch.stack([y0, x0, y1, x1])


def box_four_connected(heatmap, tau):
    return largest_region_box(heatmap >= tau * heatmap.max(), diagonal=False)


# Lesson 04 -------------------------------------------------------------------------------------------------------


def good_grad_cam(activations, gradients):
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activations).sum(dim=1))


def grad_cam_without_relu(activations, gradients):
    return (gradients.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1)


def grad_cam_summed_gradients(activations, gradients):
    return torch.relu((gradients.sum(dim=(2, 3), keepdim=True) * activations).sum(dim=1))


def grad_cam_positive_gradients(activations, gradients):
    return torch.relu((gradients.clamp(min=0).mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1))


def grad_cam_per_cell(activations, gradients):
    return torch.relu((gradients * activations).sum(dim=1))


def grad_cam_normalised(activations, gradients):
    maps = good_grad_cam(activations, gradients)
    return maps / maps.amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)


def layer_gradients_of(score):
    def gradients(model, images, classes, layer):
        kept = {}
        hook = model.get_submodule(layer).register_forward_hook(lambda m, i, o: kept.update(a=o))
        logits = model(images)
        hook.remove()
        grads = torch.autograd.grad(score(logits, classes), kept["a"])[0]
        return kept["a"].detach(), grads
    return gradients


def rows(values, classes):
    return values[torch.arange(len(classes)), classes].sum()


good_layer_gradients = layer_gradients_of(lambda logits, classes: rows(logits, classes))
gradients_of_probability = layer_gradients_of(lambda logits, classes: rows(F.softmax(logits, dim=1), classes))
gradients_of_log_probability = layer_gradients_of(lambda logits, classes: rows(F.log_softmax(logits, dim=1), classes))
gradients_of_every_logit = layer_gradients_of(lambda logits, classes: logits.sum())
gradients_of_prediction = layer_gradients_of(lambda logits, classes: logits.max(dim=1).values.sum())


# Lesson 05 -------------------------------------------------------------------------------------------------------


def good_total_variation(h):
    return (h.diff(dim=2).abs().sum(dim=(1, 2)) + h.diff(dim=1).abs().sum(dim=(1, 2)))


def tv_squared(h):
    return h.diff(dim=2).pow(2).sum(dim=(1, 2)) + h.diff(dim=1).pow(2).sum(dim=(1, 2))


def tv_one_direction(h):
    return h.diff(dim=2).abs().sum(dim=(1, 2))


def tv_mean(h):
    return h.diff(dim=2).abs().mean(dim=(1, 2)) + h.diff(dim=1).abs().mean(dim=(1, 2))


def tv_wrapped(h):
    return ((h - torch.roll(h, 1, 2)).abs() + (h - torch.roll(h, 1, 1)).abs()).sum(dim=(1, 2))


def tv_isotropic(h):
    across, down = h.diff(dim=2)[:, :-1, :], h.diff(dim=1)[:, :, :-1]
    return torch.sqrt(across ** 2 + down ** 2).sum(dim=(1, 2))


def good_warp(maps, theta):
    return F.grid_sample(maps, F.affine_grid(theta, maps.shape, align_corners=False), align_corners=False)


def warp_corners_aligned(maps, theta):
    return F.grid_sample(maps, F.affine_grid(theta, maps.shape, align_corners=True), align_corners=True)


def warp_nearest(maps, theta):
    return F.grid_sample(maps, F.affine_grid(theta, maps.shape, align_corners=False), mode="nearest",
                         align_corners=False)


def warp_border(maps, theta):
    return F.grid_sample(maps, F.affine_grid(theta, maps.shape, align_corners=False), padding_mode="border",
                         align_corners=False)


def warp_inverted(maps, theta):
    full = torch.cat([theta, torch.tensor([[[0.0, 0.0, 1.0]]], device=theta.device).expand(len(theta), 1, 3)], dim=1)
    return good_warp(maps, torch.linalg.inv(full)[:, :2])


# Lesson 06 -------------------------------------------------------------------------------------------------------


def good_rise_estimator(scores, masks, keep):
    return (scores[:, None, None] * masks).sum(dim=0) / (len(scores) * keep)


def rise_unnormalised(scores, masks, keep):
    return (scores[:, None, None] * masks).sum(dim=0)


def rise_mean(scores, masks, keep):
    return (scores[:, None, None] * masks).mean(dim=0)


def rise_over_p(scores, masks, keep):
    return (scores[:, None, None] * masks).sum(dim=0) / keep


def rise_over_mask_sum(scores, masks, keep):
    return (scores[:, None, None] * masks).sum(dim=0) / masks.sum(dim=0)


def rise_complement(scores, masks, keep):
    return (scores[:, None, None] * (1 - masks)).sum(dim=0) / (len(scores) * keep)


def good_masked_scores(model, image, masks, target):
    with torch.no_grad():
        return F.softmax(model(masks[:, None] * image), dim=1)[:, target]


def masked_logits(model, image, masks, target):
    with torch.no_grad():
        return model(masks[:, None] * image)[:, target]


def masked_softmax_over_masks(model, image, masks, target):
    with torch.no_grad():
        return F.softmax(model(masks[:, None] * image), dim=0)[:, target]


def unmasked_scores(model, image, masks, target):
    with torch.no_grad():
        return F.softmax(model(image.expand(len(masks), -1, -1, -1)), dim=1)[:, target]


# Lesson 07 -------------------------------------------------------------------------------------------------------


def good_auc(curves):
    steps = curves.shape[1] - 1
    return ((curves[:, 1:] + curves[:, :-1]) / 2).sum(dim=1) / steps


def auc_mean(curves):
    return curves.mean(dim=1)


def auc_rectangles(curves):
    return curves[:, 1:].mean(dim=1)


def auc_not_divided(curves):
    return ((curves[:, 1:] + curves[:, :-1]) / 2).sum(dim=1)


def mean_ranks(values):
    """Ranks with ties sharing their mean rank, by counting (tests only)."""
    below = (values[:, None, :] < values[:, :, None]).sum(dim=2).float()
    equal = (values[:, None, :] == values[:, :, None]).sum(dim=2).float()
    return below + (equal - 1) / 2


def pearson(a, b):
    return torch.stack([torch.corrcoef(torch.stack([x, y]))[0, 1] for x, y in zip(a, b)])


def good_spearman(a, b):
    return pearson(mean_ranks(a), mean_ranks(b))


def spearman_of_values(a, b):
    return pearson(a, b)


def spearman_of_order(a, b):
    return pearson(a.argsort(dim=1).float(), b.argsort(dim=1).float())


def spearman_ties_by_position(a, b):
    def ordinal(values):
        return values.argsort(dim=1, stable=True).argsort(dim=1).float()
    return pearson(ordinal(a), ordinal(b))


def stub(*args):
    raise NotImplementedError


SOLUTIONS = {"iou": good_iou, "loss": good_loss, "gap_logits": good_gap_logits, "head_parameters": good_head_parameters,
             "cam": good_cam, "box": good_box, "grad_cam": good_grad_cam, "layer_gradients": good_layer_gradients,
             "total_variation": good_total_variation, "warp": good_warp, "rise_estimator": good_rise_estimator,
             "masked_scores": good_masked_scores, "auc": good_auc, "spearman": good_spearman}
MISTAKES = [  # (exercise, wrong implementation, words its hint must hold)
    ("iou", iou_of_xywh, "not (x, y, width, height)"),
    ("iou", iou_unclamped, "clamp the intersection"),
    ("iou", iou_union_as_sum, "counts the overlap once"),
    ("iou", iou_all_pairs, "not the N x N table"),
    ("loss", loss_with_norm, "squares the L2 distance"),
    ("loss", loss_mean_over_all, "divides by 4 more"),
    ("loss", loss_without_weight, "by the weight lambda"),
    ("loss", loss_on_probabilities, "do not pass probabilities"),
    ("gap_logits", gap_by_sum, "divide each channel's sum"),
    ("gap_logits", gap_by_max, "global max pooling"),
    ("gap_logits", gap_without_bias, "adds its bias"),
    ("gap_logits", gap_of_one_cell, "not one position"),
    ("head_parameters", heads_without_biases, "one bias per output"),
    ("head_parameters", flatten_without_grid, "one per channel and cell"),
    ("head_parameters", gap_per_cell, "only `channels` inputs"),
    ("cam", cam_with_relu, "no ReLU"),
    ("cam", cam_averaged, "do not average them"),
    ("cam", cam_of_first_class, "its own class"),
    ("cam", cam_of_all_classes, "not all classes' weights"),
    ("cam", cam_normalised, "Return the raw map"),
    ("box", box_of_everything_kept, "largest connected region"),
    ("box", box_with_absolute_tau, "fraction of the map's maximum"),
    ("box", box_inclusive, "pixel edges"),
    ("box", box_yx, "x is the column"),
    ("box", box_four_connected, "8-connectivity"),
    ("grad_cam", grad_cam_without_relu, "apply a ReLU"),
    ("grad_cam", grad_cam_summed_gradients, "a mean, not a sum"),
    ("grad_cam", grad_cam_positive_gradients, "negative ones included"),
    ("grad_cam", grad_cam_per_cell, "one number per channel"),
    ("grad_cam", grad_cam_normalised, "before any normalisation"),
    ("layer_gradients", gradients_of_probability, "before the softmax"),
    ("layer_gradients", gradients_of_log_probability, "log-probability"),
    ("layer_gradients", gradients_of_every_logit, "not the sum of all logits"),
    ("layer_gradients", gradients_of_prediction, "not the predicted ones"),
    ("total_variation", tv_squared, "*absolute* differences"),
    ("total_variation", tv_one_direction, "both directions"),
    ("total_variation", tv_mean, "a mean divides"),
    ("total_variation", tv_wrapped, "wraps around"),
    ("total_variation", tv_isotropic, "isotropic"),
    ("warp", warp_corners_aligned, "align_corners=False"),
    ("warp", warp_nearest, "bilinearly"),
    ("warp", warp_border, "padding_mode='zeros'"),
    ("warp", warp_inverted, "its inverse"),
    ("rise_estimator", rise_unnormalised, "Divide the weighted sum by N p"),
    ("rise_estimator", rise_mean, "not only N"),
    ("rise_estimator", rise_over_p, "left out the number of masks"),
    ("rise_estimator", rise_over_mask_sum, "not by the sum of the masks"),
    ("rise_estimator", rise_complement, "not its complement"),
    ("masked_scores", masked_logits, "not by its raw logit"),
    ("masked_scores", masked_softmax_over_masks, "over the classes"),
    ("masked_scores", unmasked_scores, "Multiply the image by each mask"),
    ("auc", auc_mean, "first and last points count half"),
    ("auc", auc_rectangles, "sum of rectangles"),
    ("auc", auc_not_divided, "divide by the T steps"),
    ("spearman", spearman_of_values, "of the *ranks*"),
    ("spearman", spearman_of_order, "argsort of the argsort"),
    ("spearman", spearman_ties_by_position, "share their mean rank"),
]


def test_every_exercise_has_a_solution_here():
    assert set(SOLUTIONS) == set(exercises.EXERCISES)


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_a_right_answer_is_correct_and_a_stub_is_not_implemented(name):
    verdict = exercises.check(name, SOLUTIONS[name])
    assert verdict and verdict.status == "correct" and repr(verdict).startswith(f"{name}: correct (")
    verdict = exercises.check(name, stub)
    assert not verdict and verdict.status == "not implemented" and "not implemented yet" in verdict.message


@pytest.mark.parametrize("name, wrong, words", MISTAKES, ids=[f"{n}-{w.__name__}" for n, w, _ in MISTAKES])
def test_each_mistake_gets_its_own_hint_whatever_the_seeds(name, wrong, words, monkeypatch):
    verdict = exercises.check(name, wrong)
    assert verdict.status == "mistake" and words in verdict.message, verdict.message
    others = [hint for n, _, hint in MISTAKES if n == name and hint != words]
    assert not any(other in verdict.message for other in others)
    monkeypatch.setattr(exercises.checking, "SEEDS", (5, 6))
    assert exercises.check(name, wrong) == verdict


def test_an_exception_is_one_line_naming_the_learners_line():
    def broken(a, b):
        width = a[:, 2] - a[:, 0]
        return torch.cat([width, b], dim=1)  # a (N,) and an (N, 4) tensor do not concatenate

    verdict = exercises.check("iou", broken)
    assert verdict.status == "error" and "IndexError" in verdict.message, verdict.message
    assert "line 3 of your function: return torch.cat([width, b], dim=1)" in verdict.message
    assert "\n" not in verdict.message


def test_other_wrong_answers_say_how_without_the_expected_values():
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b)[:-1])
    assert verdict.status == "wrong" and "returned shape (15,) where (16,) was expected" in verdict.message
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b) * 1.5)
    assert verdict.status == "wrong" and "values differ by up to" in verdict.message
    verdict = exercises.check("iou", lambda a, b: good_iou(a, b).tolist())
    assert verdict.status == "wrong" and "returned a list, not a tensor" in verdict.message


def test_inputs_changed_in_place_do_not_change_the_reference():
    def in_place(a, b):
        a.mul_(0)  # spoils only its own copy: the reference still sees the original boxes
        return good_iou(a, b)

    assert exercises.check("iou", in_place).status in ("wrong", "mistake")
    assert exercises.check("iou", good_iou)


def test_unknown_exercise():
    with pytest.raises(ValueError, match="unknown exercise 'gradcam'"):
        exercises.check("gradcam", good_iou)
