"""helpers.coco: a COCO-format folder written by the test, loaded with boxes, masks and errors checked by hand."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask

from helpers.coco import decode_mask, load_coco

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
