"""Copy the course's photos from the installed scikit-image and matplotlib into data/photos/.

The files are copied byte for byte; data/photos.json (written by hand) gives each
photo's source, licence, ImageNet class and hand-checked box. Run once, from the
repository root, with the project's venv: ``.venv/bin/python scripts/copy_photos.py``.
"""

import shutil
from pathlib import Path

import matplotlib
import skimage

SOURCES = {
    "astronaut.png": Path(skimage.data.__file__).parent / "astronaut.png",
    "camera.png": Path(skimage.data.__file__).parent / "camera.png",
    "chelsea.png": Path(skimage.data.__file__).parent / "chelsea.png",
    "coffee.png": Path(skimage.data.__file__).parent / "coffee.png",
    "horse.png": Path(skimage.data.__file__).parent / "horse.png",
    "motorcycle_left.png": Path(skimage.data.__file__).parent / "motorcycle_left.png",
    "retina.jpg": Path(skimage.data.__file__).parent / "retina.jpg",
    "rocket.jpg": Path(skimage.data.__file__).parent / "rocket.jpg",
    "grace_hopper.jpg": Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
}

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "data" / "photos"
    target.mkdir(parents=True, exist_ok=True)
    for name, source in SOURCES.items():
        shutil.copyfile(source, target / name)
        print(f"{source} -> {target / name}")
