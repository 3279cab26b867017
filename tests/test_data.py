import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from helpers.data import (
    DATA_DIR,
    SHAPE_CLASSES,
    Normalization,
    ShapesDataset,
    boxes_from_masks,
    class_index,
    imagenet_classes,
    load_image,
    load_photos,
    make_shapes,
)


def assert_same(a, b):
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("options", [{}, {"placement": "centred"}, {"objects": 2}, {"size": 96, "clutter": False}])
def test_same_seed_gives_bit_identical_tensors(options):
    assert_same(make_shapes(50, seed=3, **options), make_shapes(50, seed=3, **options))


def test_other_seed_gives_other_images():
    assert not torch.equal(make_shapes(8, seed=0).images, make_shapes(8, seed=1).images)


def test_chunked_rendering_does_not_change_the_images(monkeypatch):
    import helpers.data

    whole = make_shapes(300, seed=5, objects=2)
    monkeypatch.setattr(helpers.data, "_CHUNK", 64)  # 5 chunks instead of 1
    assert_same(make_shapes(300, seed=5, objects=2), whole)


def test_shapes_dtypes_ranges_and_classes():
    shapes = make_shapes(600, seed=0)
    assert shapes.images.shape == (600, 3, 64, 64) and shapes.images.dtype == torch.float32
    assert shapes.images.min() >= 0 and shapes.images.max() <= 1
    assert shapes.labels.dtype == torch.int64 and shapes.masks.dtype == torch.bool
    counts = torch.bincount(shapes.labels, minlength=len(SHAPE_CLASSES))
    assert len(SHAPE_CLASSES) >= 5 and (counts > 60).all()  # every class, roughly balanced


def test_box_is_tight_around_mask():
    shapes = make_shapes(200, seed=1)
    for box, mask in zip(shapes.boxes.long(), shapes.masks):
        x1, y1, x2, y2 = box.tolist()
        assert mask.any() and not mask[:, :x1].any() and not mask[:, x2:].any()
        assert not mask[:y1].any() and not mask[y2:].any()
        assert mask[:, x1].any() and mask[:, x2 - 1].any() and mask[y1].any() and mask[y2 - 1].any()


def test_object_pixels_carry_one_colour_and_lie_inside_the_canvas():
    shapes = make_shapes(100, seed=2)
    for image, mask in zip(shapes.images, shapes.masks):
        pixels = image[:, mask]
        assert torch.allclose(pixels, pixels[:, :1].expand_as(pixels))  # painted on top of the clutter
    assert (shapes.boxes[:, :2] >= 0).all() and (shapes.boxes[:, 2:] <= 64).all()


def test_classes_differ_by_shape_not_colour():
    """Object colours are drawn independently of the class: per-class mean colours agree."""
    shapes = make_shapes(3000, seed=4, clutter=False)
    colours = torch.stack([img[:, m][:, 0] for img, m in zip(shapes.images, shapes.masks)])
    means = torch.stack([colours[shapes.labels == c].mean(0) for c in range(len(SHAPE_CLASSES))])
    assert (means.max(0).values - means.min(0).values).max() < 0.06


def test_shapes_differ_in_area():
    """A sanity check on the drawing itself: at equal radius a ring has less area than a circle."""
    shapes = make_shapes(2000, seed=6, clutter=False)
    area = shapes.masks.flatten(1).sum(1).float() / ((shapes.boxes[:, 2] - shapes.boxes[:, 0]) ** 2)
    mean = [area[shapes.labels == c].mean().item() for c in range(len(SHAPE_CLASSES))]
    assert mean[class_index("ring")] < mean[class_index("circle")]
    assert mean[class_index("star")] < mean[class_index("square")]


def test_centred_placement():
    shapes = make_shapes(300, placement="centred", seed=0)
    centres = (shapes.boxes[:, :2] + shapes.boxes[:, 2:]) / 2
    assert ((centres - 32).abs() < 0.04 * 64 + 4).all()  # centre of the shape, up to its asymmetry
    anywhere = make_shapes(300, seed=0)
    spread = ((anywhere.boxes[:, :2] + anywhere.boxes[:, 2:]) / 2 - 32).abs().max()
    assert spread > 15


def test_two_objects_of_different_classes_that_do_not_overlap():
    shapes = make_shapes(300, objects=2, seed=0)
    assert shapes.labels.shape == (300, 2) and shapes.boxes.shape == (300, 2, 4)
    assert shapes.masks.shape == (300, 2, 64, 64)
    assert (shapes.labels[:, 0] != shapes.labels[:, 1]).all()
    assert not (shapes.masks[:, 0] & shapes.masks[:, 1]).any()
    assert torch.equal(shapes.boxes, boxes_from_masks(shapes.masks))


def test_canvas_size_and_clutter_option():
    big = make_shapes(20, size=128, seed=0)
    assert big.images.shape == (20, 3, 128, 128) and (big.boxes <= 128).all()
    clean = make_shapes(20, clutter=False, seed=0)
    cluttered = make_shapes(20, clutter=True, seed=0)

    def largest_step_outside_objects(shapes):
        background = shapes.images.clone()
        background[shapes.masks.unsqueeze(1).expand_as(background)] = float("nan")
        steps = (background[..., 1:] - background[..., :-1]).abs()
        return steps[~steps.isnan()].max()

    assert largest_step_outside_objects(clean) < 0.05  # a smooth background
    assert largest_step_outside_objects(cluttered) > 0.3  # sharp-edged distractors


def test_dataset_and_dataloader():
    dataset = ShapesDataset(40, seed=0)
    assert len(dataset) == 40
    image, label, box, mask = dataset[3]
    assert image.shape == (3, 64, 64) and label.dim() == 0 and box.shape == (4,) and mask.shape == (64, 64)
    batch = next(iter(DataLoader(dataset, batch_size=8)))
    assert batch.images.shape == (8, 3, 64, 64) and batch.boxes.shape == (8, 4)
    assert torch.equal(batch.images, dataset.data.images[:8])


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": -5}, ValueError, "n must be >= 1"),
        ({"n": 2.0}, TypeError, "n must be an int"),
        ({"size": 0}, ValueError, "size must be >= 24"),
        ({"size": 16}, ValueError, "size must be >= 24"),
        ({"size": "64"}, TypeError, "size must be an int"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"seed": None}, TypeError, "seed must be an int"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"placement": "middle"}, ValueError, "placement must be one of"),
        ({"objects": 3}, ValueError, "objects must be 1 or 2"),
        ({"objects": 2, "placement": "centred"}, ValueError, "objects=2 needs placement='anywhere'"),
        ({"clutter": 1}, TypeError, "clutter must be a bool"),
    ],
)
def test_bad_arguments(options, error, match):
    arguments = {"n": 4} | options
    with pytest.raises(error, match=match):
        make_shapes(arguments.pop("n"), **arguments)


def test_class_index():
    assert [class_index(name) for name in SHAPE_CLASSES] == list(range(len(SHAPE_CLASSES)))
    assert class_index("Egyptian cat", imagenet_classes()) == 285
    with pytest.raises(ValueError, match="unknown class name 'hexagon'; expected one of: circle"):
        class_index("hexagon")
    with pytest.raises(TypeError, match="class name must be a str"):
        class_index(3)


def test_boxes_from_masks_hand_made():
    masks = torch.zeros(3, 5, 6, dtype=torch.bool)
    masks[0, 1:3, 2:5] = True  # rows 1-2, columns 2-4
    masks[1, 4, 0] = True  # one pixel in a corner
    boxes = boxes_from_masks(masks)
    assert boxes.tolist() == [[2, 1, 5, 3], [0, 4, 1, 5], [0, 0, 0, 0]]
    with pytest.raises(TypeError, match="bool"):
        boxes_from_masks(masks.float())


def test_photos_annotations_are_complete_and_boxes_inside():
    info = json.loads((DATA_DIR / "photos.json").read_text())
    assert len(info) >= 8
    assert sum("scikit-image" in entry["source"] for entry in info) >= 8
    names = imagenet_classes()
    for entry in info:
        assert (DATA_DIR / entry["file"]).is_file()
        assert entry["licence"] and entry["source"]
        x1, y1, x2, y2 = entry["box"]
        assert 0 <= x1 < x2 <= entry["width"] and 0 <= y1 < y2 <= entry["height"]
        if entry["imagenet_class"] is not None:
            assert names[entry["imagenet_class"]] == entry["imagenet_name"]


def test_load_photos_resizes_images_and_boxes():
    photos = load_photos(size=224)
    assert photos.images.shape == (len(photos.names), 3, 224, 224)
    assert photos.images.min() >= 0 and photos.images.max() <= 1
    assert (photos.boxes >= 0).all() and (photos.boxes <= 224).all()
    chelsea = photos.names.index("chelsea")
    assert photos.boxes[chelsea].tolist() == pytest.approx([0, 0, 425 * 224 / 451, 224])
    normalization = Normalization((0.5,) * 3, (0.5,) * 3)
    normalised = load_photos(normalization)
    assert torch.allclose(normalised.images, photos.images * 2 - 1, atol=1e-6)


def test_load_image_handles_grayscale_and_rgba(tmp_path):
    gray = np.full((10, 20), 128, dtype=np.uint8)
    from PIL import Image

    Image.fromarray(gray).save(tmp_path / "gray.png")
    rgba = np.zeros((10, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, half of it transparent
    rgba[:, :10, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    x = load_image(tmp_path / "gray.png", size=8)
    assert x.shape == (1, 3, 8, 8) and torch.allclose(x, torch.full_like(x, 128 / 255), atol=1e-6)
    y = load_image(tmp_path / "rgba.png", size=20)[0]
    assert torch.allclose(y[:, :, :5], torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 20, 5), atol=1e-6)
    assert torch.allclose(y[:, :, -5:], torch.ones(3, 20, 5), atol=1e-6)  # transparent over white


def test_normalization_round_trip():
    norm = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    x = torch.rand(2, 3, 4, 5)
    assert torch.allclose(norm.undo(norm.apply(x)), x, atol=1e-6)
    assert torch.allclose(norm.apply(x)[:, 1], (x[:, 1] - 0.456) / 0.224)


def test_new_options_leave_the_default_images_unchanged():
    """shift, rotation and radius defaults draw the same random numbers as before they existed."""
    plain = make_shapes(50, seed=9)
    explicit = make_shapes(50, seed=9, rotation=(0.0, 360.0), shift=None, radius=(0.12 * 64, 0.22 * 64))
    assert_same(plain, explicit)


def test_fixed_radius_keeps_objects_one_size_on_a_larger_canvas():
    small = make_shapes(300, clutter=False, seed=0)
    large = make_shapes(300, size=128, radius=(0.12 * 64, 0.22 * 64), clutter=False, seed=0)
    grown = make_shapes(300, size=128, clutter=False, seed=0)
    assert torch.equal(small.labels, large.labels)

    def areas(shapes):
        return shapes.masks.flatten(1).sum(1).float()

    assert torch.allclose(areas(large), areas(small), rtol=0.15)  # the same shapes, drawn at other positions
    assert torch.allclose(areas(grown), 4 * areas(small), rtol=0.15)  # the default radius doubles with the size


def test_shift_limit_follows_the_radius():
    make_shapes(4, size=128, placement="centred", shift=50, radius=(8, 14))  # 64 - 14 = 50: still inside
    with pytest.raises(ValueError, match=r"shift must be a number in \[0, 50\]"):
        make_shapes(4, size=128, placement="centred", shift=51, radius=(8, 14))


def test_shift_puts_objects_at_that_distance_from_the_centre():
    for shift in (0, 8, 16):
        shapes = make_shapes(300, placement="centred", shift=shift, clutter=False, seed=0)
        circles = shapes.labels == class_index("circle")  # symmetric: box centre = object centre
        centres = (shapes.boxes[circles, :2] + shapes.boxes[circles, 2:]) / 2
        assert ((centres - 32).norm(dim=1) - shift).abs().max() < 1.0


def test_rotation_range():
    square = class_index("square")
    upright = make_shapes(300, rotation=(0, 0), clutter=False, seed=0)
    tilted = make_shapes(300, rotation=(45, 45), clutter=False, seed=0)

    def fill(shapes):  # share of the box covered by the mask, for squares
        chosen = shapes.labels == square
        box = shapes.boxes[chosen]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        return (shapes.masks[chosen].flatten(1).sum(1) / area).mean().item()

    assert fill(upright) > 0.95  # an upright square fills its box
    assert 0.4 < fill(tilted) < 0.6  # a square at 45 degrees fills half of it


@pytest.mark.parametrize(
    "options, match",
    [
        ({"shift": 5}, "use it with placement='centred'"),
        ({"placement": "centred", "shift": -1}, "shift must be a number in"),
        ({"placement": "centred", "shift": 30}, "shift must be a number in"),
        ({"placement": "centred", "shift": "4"}, "shift must be a number in"),
        ({"rotation": (90, 10)}, "rotation must be a"),
        ({"rotation": 45}, "rotation must be a"),
        ({"rotation": (0, "90")}, "rotation must be a"),
        ({"radius": 10}, "radius must be a"),
        ({"radius": (12, 8)}, "radius must be a"),
        ({"radius": (1, 8)}, "radius must be a"),
        ({"radius": (8, 30)}, "radius must be a"),
        ({"radius": (8, True)}, "radius must be a"),
    ],
)
def test_bad_shift_and_rotation(options, match):
    with pytest.raises(ValueError, match=match):
        make_shapes(4, **options)
