import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.data import make_shapes
from helpers.device import set_seed
from helpers.train import History, classification_loss, classifier_scores, fit_classifier, predict_classes, predict_logits, train


def tiny_problem(seed=0):
    """A linearly separable toy problem: the label is the sign of the first feature."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 5, generator=generator)
    return x, (x[:, 0] > 0).long()


def cross_entropy(outputs, batch):
    loss = F.cross_entropy(outputs, batch[1])
    return {"loss": loss, "ce": loss}


def fit(seed=0, epochs=3, **options):
    set_seed(0)
    model = nn.Linear(5, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    data = tiny_problem()
    history = train(model, data, cross_entropy, optimizer, epochs, batch_size=32, seed=seed, progress=False,
                    device="cpu",
                    evaluate=lambda m: {"accuracy": (m(data[0]).argmax(1) == data[1]).float().mean()}, **options)
    return model, history


def test_training_learns_and_logs_per_epoch():
    model, history = fit(epochs=5)
    assert isinstance(history, History)
    assert set(history) == {"train loss", "train ce", "test accuracy", "seconds"}
    assert all(len(values) == 5 for values in history.values())
    assert history["train loss"][-1] < history["train loss"][0]
    assert history["test accuracy"][-1] > 0.95
    assert not model.training  # left in eval mode


def test_same_seed_same_run_other_seed_other_batches():
    first, again, other = fit(seed=1)[0], fit(seed=1)[0], fit(seed=2)[0]
    assert torch.equal(first.weight, again.weight)
    assert not torch.equal(first.weight, other.weight)


def test_train_loss_is_the_epoch_mean_of_the_batch_losses():
    """One epoch of SGD with lr 0: the logged loss is the mean loss of the batches (equal sizes)."""
    set_seed(0)
    model = nn.Linear(5, 2)
    data = tiny_problem()
    history = train(model, data, cross_entropy, torch.optim.SGD(model.parameters(), lr=0.0), 1, batch_size=32,
                    device="cpu", progress=False)
    with torch.no_grad():
        expected = F.cross_entropy(model(data[0]), data[1]).item()
    assert history["train loss"][0] == pytest.approx(expected, rel=1e-5)


def test_named_tuples_reach_the_loss_with_their_names():
    shapes = make_shapes(64, seed=0)
    seen = []

    def loss_fn(outputs, batch):
        seen.append(type(batch).__name__)
        loss = F.cross_entropy(outputs, batch.labels)
        return {"loss": loss}

    set_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, 6))
    train(model, shapes, loss_fn, torch.optim.SGD(model.parameters(), lr=0.01), 1, batch_size=16, progress=False)
    assert seen == ["Shapes"] * 4


def test_scheduler_is_stepped_every_batch():
    set_seed(0)
    model = nn.Linear(5, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    train(model, tiny_problem(), cross_entropy, optimizer, 2, batch_size=64, scheduler=scheduler, progress=False)
    assert scheduler.last_epoch == 8  # 2 epochs x 4 batches


@pytest.mark.parametrize("options, match", [({"epochs": 0}, "epochs"), ({"epochs": 1.5}, "epochs"),
                                            ({"batch_size": 0}, "batch_size"),
                                            ({"data": (torch.zeros(3, 2), torch.zeros(4))}, "same first dimension")])
def test_bad_arguments(options, match):
    model = nn.Linear(5, 2)
    arguments = {"data": tiny_problem(), "epochs": 1} | options
    with pytest.raises(ValueError, match=match):
        train(model, arguments.pop("data"), cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
              arguments.pop("epochs"), progress=False, **arguments)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_gpu_matches_cpu():
    """Same seed, same batches: a short run on the GPU ends at the CPU's weights (TF32 off via set_seed)."""
    runs = {}
    for device in ("cpu", "cuda"):
        set_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(4, 6))
        shapes = make_shapes(128, seed=0)
        history = train(model, shapes, lambda out, batch: {"loss": F.cross_entropy(out, batch.labels)},
                        torch.optim.SGD(model.parameters(), lr=0.1), 2, batch_size=32, device=device, progress=False)
        assert all(p.device.type == device for p in model.parameters())
        runs[device] = (history["train loss"], [p.detach().cpu() for p in model.parameters()])
    assert runs["cpu"][0] == pytest.approx(runs["cuda"][0], rel=1e-4)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(runs["cpu"][1], runs["cuda"][1]))


def test_predict_logits_in_batches_equals_one_pass():
    set_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    images = torch.randn(7, 3, 2, 2)
    with torch.no_grad():
        whole = model(images)
    assert torch.allclose(predict_logits(model, images, batch_size=3), whole, atol=1e-6)
    assert torch.equal(predict_classes(model, images, batch_size=2), whole.argmax(dim=1))


def test_classification_loss_is_cross_entropy_on_the_labels():
    shapes = make_shapes(4, seed=0)
    logits = torch.randn(4, 6)
    assert torch.equal(classification_loss(logits, shapes)["loss"], F.cross_entropy(logits, shapes.labels))


def test_fit_classifier_learns_with_a_one_cycle_schedule():
    set_seed(0)
    model = nn.Linear(5, 2)
    x, y = tiny_problem()
    shapes_like = make_shapes(1, seed=0)._make([x, y, torch.zeros(256, 4), torch.zeros(256, 1)])
    history = fit_classifier(model, shapes_like, 5, lr=0.2, batch_size=32, device="cpu", progress=False)
    assert history["train loss"][-1] < history["train loss"][0] < 0.7
    assert (predict_classes(model, x) == y).float().mean() > 0.95
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit_classifier(model, shapes_like, 0)


def test_classifier_scores_by_hand():
    class Fixed(nn.Module):  # logits given per image, whatever the image
        def __init__(self, logits):
            super().__init__()
            self.logits, self.dummy = logits, nn.Parameter(torch.zeros(1))

        def forward(self, images):
            return self.logits[images[:, 0, 0, 0].long()]

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    shapes = make_shapes(3, seed=0)._replace(images=torch.arange(3.0)[:, None, None, None].expand(3, 3, 64, 64),
                                              labels=torch.tensor([0, 1, 1]))
    scores = classifier_scores(Fixed(logits), shapes)
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["loss"] == pytest.approx(F.cross_entropy(logits, shapes.labels).item())


def test_box_loss_on_the_corners_weighs_the_centre_four_times_the_size():
    from helpers.boxes import convert, normalize
    from helpers.data import Shapes
    from helpers.train import box_regression_loss

    generator = torch.Generator().manual_seed(0)
    predicted = torch.rand(7, 4, generator=generator) * 0.5 + 0.25  # cxcywh in [0.25, 0.75]
    truth = torch.tensor([[10.0, 12, 40, 30]]).expand(7, 4)  # xyxy pixels in a 64-pixel image
    batch = Shapes(torch.zeros(7, 3, 64, 64), torch.zeros(7, dtype=torch.long), truth, None)
    logits = torch.zeros(7, 6)
    d = predicted - convert(normalize(truth, 64), "xyxy", "cxcywh")
    by_hand = (2 * d[:, :2].pow(2).sum(dim=1) + d[:, 2:].pow(2).sum(dim=1) / 2).mean()
    corners = box_regression_loss("l2", 3.0, "xyxy")((logits, predicted), batch)
    centred = box_regression_loss("l2", 3.0)((logits, predicted), batch)
    assert torch.allclose(corners["box"], by_hand, atol=1e-6)
    assert torch.allclose(centred["box"], d.pow(2).sum(dim=1).mean(), atol=1e-6)
    assert torch.allclose(corners["loss"], corners["ce"] + 3.0 * by_hand, atol=1e-6)
    for kind, form in (("giou", "xyxy"), ("l2", "xywh")):
        with pytest.raises(ValueError, match="form must be"):
            box_regression_loss(kind, 1.0, form)
