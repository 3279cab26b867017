"""helpers.coco: a COCO-format folder written by the test, loaded with boxes, masks and errors checked by hand."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask

from helpers import compare
from helpers.benchmarks import stored_results
from helpers.coco import (
    IMAGENET_CLASSES,
    CocoPhotos,
    decode_mask,
    explained_classes,
    explanation_set,
    load_coco,
    smaller_half,
    targets,
)
from helpers.data import imagenet_classes
from helpers.models import imagenet_model, sha256_of

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-free"


def _rectangle(height, width, top, left, bottom, right):
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top:bottom, left:right] = 1
    return mask


@pytest.fixture
def folder(tmp_path):
    """Two images: 20 x 10 with a polygon, a compressed RLE and a crowd (uncompressed RLE); 8 x 8 with no object."""
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((10, 20, 3), 200, dtype=np.uint8)).save(tmp_path / "images" / "wide.png")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "images" / "empty.png")
    rle = coco_mask.encode(np.asfortranarray(_rectangle(10, 20, 6, 10, 10, 16)))
    crowd = coco_mask.encode(np.asfortranarray(_rectangle(10, 20, 0, 0, 2, 4)))
    counts = []  # the uncompressed form of the crowd's RLE: run lengths in column-major order
    flat, value, run = _rectangle(10, 20, 0, 0, 2, 4).flatten(order="F"), 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    assert coco_mask.decode(coco_mask.frPyObjects({"counts": counts, "size": [10, 20]}, 10, 20)).sum() == \
        coco_mask.decode(crowd).sum()
    data = {
        "images": [{"id": 7, "file_name": "wide.png", "width": 20, "height": 10},
                   {"id": 9, "file_name": "empty.png", "width": 8, "height": 8}],
        "categories": [{"id": 17, "name": "cat"}, {"id": 1, "name": "person"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 17, "iscrowd": 0, "bbox": [2, 1, 6, 4],
             "segmentation": [[2, 1, 8, 1, 8, 5, 2, 5]]},
            {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0, "bbox": [10, 6, 6, 4],
             "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}},
            {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 4, 2],
             "segmentation": {"size": [10, 20], "counts": counts}},
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return tmp_path


def test_boxes_are_scaled_to_the_square_and_masks_match_hand_made_ones(folder):
    photos = load_coco(folder, size=10)
    assert photos.images.shape == (2, 3, 10, 10) and photos.ids == [7, 9]
    assert photos.files == ["wide.png", "empty.png"] and photos.category_names == {17: "cat", 1: "person"}
    assert torch.allclose(photos.images[0], torch.full((3, 10, 10), 200 / 255))
    # 20 x 10 -> 10 x 10: x halves, y stays; xywh [2, 1, 6, 4] -> xyxy [2, 1, 8, 5] -> [1, 1, 4, 5]
    assert photos.boxes[0].tolist() == [[1, 1, 4, 5], [5, 6, 8, 10], [0, 0, 2, 2]]
    assert photos.categories[0].tolist() == [17, 1, 1] and photos.crowd[0].tolist() == [False, False, True]
    expected = [_rectangle(10, 10, 1, 1, 5, 4), _rectangle(10, 10, 6, 5, 10, 8), _rectangle(10, 10, 0, 0, 2, 2)]
    for found, wanted in zip(photos.masks[0], expected):
        assert torch.equal(found, torch.from_numpy(wanted.astype(bool)))
    assert photos.boxes[1].shape == (0, 4) and photos.masks[1].shape == (0, 10, 10) and photos.crowd[1].numel() == 0


def test_decode_mask_reads_polygons_and_both_rles():
    wanted = torch.from_numpy(_rectangle(10, 20, 1, 2, 5, 8).astype(bool))
    assert torch.equal(decode_mask([[2, 1, 8, 1, 8, 5, 2, 5]], 10, 20), wanted)
    rle = coco_mask.encode(np.asfortranarray(wanted.numpy().astype(np.uint8)))
    assert torch.equal(decode_mask(rle, 10, 20), wanted)


def test_a_malformed_json_or_a_missing_image_names_the_file(folder):
    (folder / "broken.json").write_text("{ not json")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        load_coco(folder, annotations="broken.json")
    (folder / "other.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="no list 'annotations'"):
        load_coco(folder, annotations="other.json")
    with pytest.raises(FileNotFoundError, match="no annotation file"):
        load_coco(folder, annotations="absent.json")
    (folder / "images" / "empty.png").unlink()
    with pytest.raises(FileNotFoundError, match="empty.png is listed in"):
        load_coco(folder)


def test_ids_choose_the_images_in_the_files_order(folder):
    assert load_coco(folder, size=10, ids=[9, 7]).ids == [7, 9]
    only = load_coco(folder, size=10, ids=[9])
    assert only.ids == [9] and only.images.shape == (1, 3, 10, 10)
    with pytest.raises(ValueError, match="no image with id 8"):
        load_coco(folder, ids=[7, 8])


def test_the_class_map_names_imagenet_classes_of_its_category():
    names = imagenet_classes()
    assert set(IMAGENET_CLASSES["cat"]) == {names.index(n) for n in
                                            ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")}
    assert [names[i] for i in IMAGENET_CLASSES["dog"][:1] + IMAGENET_CLASSES["dog"][-1:]] == \
        ["Chihuahua", "Mexican hairless"] and len(IMAGENET_CLASSES["dog"]) == 118
    assert names[IMAGENET_CLASSES["bus"][1]] == "school bus" and names[IMAGENET_CLASSES["dining table"][0]] == \
        "dining table"
    assert {"person", "kite", "giraffe", "fork"}.isdisjoint(IMAGENET_CLASSES)
    assert names[21] == "kite" and 21 in IMAGENET_CLASSES["bird"]  # ImageNet's kite is the bird
    every = [i for classes in IMAGENET_CLASSES.values() for i in classes]
    assert len(every) == len(set(every)) and all(0 <= i < 1000 for i in every)  # no class in two categories


def _photos(objects, size=16):
    """A CocoPhotos of one image per list of (category id, box, crowd); masks fill the boxes."""
    boxes, categories, masks, crowd = [], [], [], []
    for image in objects:
        boxes.append(torch.tensor([box for _, box, _ in image], dtype=torch.float32))
        categories.append(torch.tensor([c for c, _, _ in image]))
        canvas = torch.zeros(len(image), size, size, dtype=torch.bool)
        for k, (_, (x1, y1, x2, y2), _) in enumerate(image):
            canvas[k, y1:y2, x1:x2] = True
        masks.append(canvas)
        crowd.append(torch.tensor([c for _, _, c in image], dtype=torch.bool))
    return CocoPhotos(torch.zeros(len(objects), 3, size, size), boxes, categories, masks, crowd,
                      list(range(len(objects))), [f"{i}.png" for i in range(len(objects))],
                      {17: "cat", 18: "dog", 1: "person"})


def test_the_target_is_the_largest_mappable_object_and_its_category_is_the_truth():
    photos = _photos([
        [(17, (0, 0, 2, 2), False), (17, (4, 4, 14, 14), True), (18, (0, 8, 3, 11), False), (1, (0, 0, 9, 9), False)],
        [(1, (0, 0, 16, 16), False)],  # a person only: left out
        [(17, (0, 0, 2, 2), False), (17, (5, 5, 8, 8), False), (17, (10, 0, 16, 12), True)],
    ])
    found = targets(photos)
    assert found.index.tolist() == [0, 2] and found.categories.tolist() == [18, 17]
    assert found.candidates == [IMAGENET_CLASSES["dog"], IMAGENET_CLASSES["cat"]]
    # image 0: the dog (9 pixels) beats the non-crowd cat (4); the crowd cat and the person never count
    assert found.boxes[0].tolist() == [[0, 8, 3, 11]] * 2  # padded to the two boxes of image 2
    assert found.boxes[1].tolist() == [[0, 0, 2, 2], [5, 5, 8, 8]]  # every non-crowd cat
    assert torch.equal(found.masks[0], photos.masks[0][2])
    assert torch.equal(found.masks[1], photos.masks[2].any(dim=0)) and found.masks[1, 0, 12]  # the crowd's pixels too
    with pytest.raises(ValueError, match="no image has an object"):
        targets(photos, class_map={"giraffe": (1,)})


def test_the_folder_with_a_person_and_a_cat_explains_the_cat(folder):
    found = targets(load_coco(folder, size=10))
    assert found.index.tolist() == [0] and found.categories.tolist() == [17]
    assert found.boxes.tolist() == [[[1, 1, 4, 5]]]
    assert torch.equal(found.masks[0], torch.from_numpy(_rectangle(10, 10, 1, 1, 5, 4).astype(bool)))


def test_the_smaller_half_is_the_n_over_2_smallest():
    assert smaller_half(torch.tensor([0.5, 0.1, 0.3, 0.2, 0.9])).tolist() == [False, True, False, True, False]
    assert smaller_half(torch.tensor([0.4, 0.2])).tolist() == [False, True]


def test_the_class_explained_is_the_best_scoring_one_of_the_set():
    logits = torch.tensor([[5.0, 1.0, 2.0, 3.0], [0.0, -1.0, -3.0, -2.0]])
    assert explained_classes(logits, [(1, 2), (2, 3)]).tolist() == [2, 3]
    with pytest.raises(ValueError, match="candidate set 1"):
        explained_classes(logits, [(1,), (4,)])
    with pytest.raises(ValueError, match="one row per candidate set"):
        explained_classes(logits, [(1,)])


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/coco-free is not here (CI and development only)")
def test_every_shared_image_has_the_sha256_of_its_record():
    data = json.loads((SHARED / "instances.json").read_text())
    assert len(data["images"]) == 156
    for entry in data["images"]:
        assert sha256_of(SHARED / "images" / entry["file_name"]) == entry["sha256"], entry["file_name"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/coco-free is not here (CI and development only)")
def test_cam_and_grad_cam_reproduce_the_benchmarks_stored_scores():
    """The rows bench/coco_methods.py stored (to 4 decimals) for its first five images, recomputed: the box metrics
    (steps of 1/15) to that rounding, PxAP and the AUCs to 2e-4 (float noise of another thread count included)."""
    stored = [result for result in stored_results("coco_methods") if result["device"] == "cpu"][0]
    check, settings = stored["check"], stored["settings"]
    pretrained = imagenet_model("cpu")
    chosen = explanation_set(SHARED, pretrained.model, pretrained.normalization, ids=check["ids"])
    assert chosen.files == check["files"] and chosen.classes.tolist() == check["classes"]
    explained = compare.explain_all(pretrained.model, chosen.images, chosen.classes, ("CAM", "Grad-CAM"),
                                    layer=settings["layer"], progress=False)
    rows = compare.score(pretrained.model, chosen.images, chosen.boxes, chosen.masks, explained,
                         step=settings["step"], classes=chosen.classes, progress=False)
    for row, expected in zip(rows, check["rows"]):
        assert row["method"] == expected["method"]
        for metric in ("MaxBoxAcc", "MaxBoxAccV2", "pointing game"):
            assert row[metric] == pytest.approx(expected[metric], abs=5e-5), (row["method"], metric)
        for metric in ("PxAP", "deletion AUC", "insertion AUC"):
            assert row[metric] == pytest.approx(expected[metric], abs=2e-4), (row["method"], metric)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/coco-free is not here (CI and development only)")
def test_the_shared_coco_folder_loads_with_a_box_and_a_mask_for_every_object(tmp_path):
    data = json.loads((SHARED / "instances.json").read_text())
    first = data["images"][:3]  # three photos are enough to exercise the real files
    (tmp_path / "images").mkdir()
    for entry in first:
        shutil.copy(SHARED / "images" / entry["file_name"], tmp_path / "images")
    ids = {entry["id"] for entry in first}
    subset = {**data, "images": first, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
    (tmp_path / "instances.json").write_text(json.dumps(subset))
    photos = load_coco(tmp_path)
    assert photos.images.shape == (3, 3, 224, 224)
    for boxes, masks in zip(photos.boxes, photos.masks):
        assert boxes.shape[0] == masks.shape[0]
        inside = (boxes[:, :2] >= -1e-4).all() and (boxes[:, 2:] <= 224 + 1e-4).all()
        assert inside and (boxes[:, 2:] > boxes[:, :2]).all()
