"""Stage `photo_patches`: model inputs cut from large real photographs, for the real class.

CIFAKE's real class is CIFAR-10: small, soft, amateur photographs. A model
trained on it alone learns that a sharp, polished, shallow-focus picture is
"generated", and calls such real photographs fake once serving has shrunk
them (docs/model.md, "Which real photos it calls fake"). This stage turns
each photograph in a folder into `crops_per_photo` model inputs, all through
`load_image`, the serving path: the first is the photo as served (its centred
square), the others squares of log-uniform side between a quarter of the
short side and all of it, at random places, so the model sees both how
serving shows a large photo and what its details look like at 32 px.

Each photo's random draws come from the seed and the photo's file name, so
adding a photo to the folder leaves every other photo's patches unchanged.

    python -m training.photo_patches     # params.yaml: photo_patches, base.image_size, base.seed
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from imageauth.preprocess import IMAGE_SUFFIXES, load_image
from training.params import load_params


def photo_files(source: Path) -> list[Path]:
    return sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def photo_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")])


def random_squares(width: int, height: int, count: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """`count` squares (left, top, side) inside the picture, side log-uniform in [short/4, short]."""
    short = min(width, height)
    sides = np.exp(rng.uniform(math.log(short / 4), math.log(short), count)).astype(int).clip(1, short)
    return [
        (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), int(side)) for side in sides
    ]


def patches_of(data: bytes, name: str, count: int, size: int, seed: int) -> np.ndarray:
    """`count` model inputs of one photograph: as served first, then random squares (uint8, count x size x size x 3)."""
    rows = [load_image(data, size).pixels]
    with Image.open(io.BytesIO(data)) as opened:
        picture = ImageOps.exif_transpose(opened).convert("RGB")
    for left, top, side in random_squares(*picture.size, count - 1, photo_rng(seed, name)):
        buffer = io.BytesIO()
        picture.crop((left, top, left + side, top + side)).save(buffer, format="PNG", compress_level=1)
        rows.append(load_image(buffer.getvalue(), size).pixels)
    return np.stack(rows)


def make_photo_patches(source: Path, output_dir: Path, crops_per_photo: int, size: int, seed: int) -> list[dict]:
    """Write `images.npy` and `manifest.json` (per photo: its rows in the array) to `output_dir`."""
    if crops_per_photo < 1:
        raise ValueError("photo_patches.crops_per_photo must be at least 1")
    files = photo_files(source)
    if not files:
        raise ValueError(f"no photographs in {source}")
    arrays, manifest = [], []
    for path in tqdm(files, desc="photo patches", unit="photo"):
        arrays.append(patches_of(path.read_bytes(), path.name, crops_per_photo, size, seed))
        manifest.append({"file": path.name, "first_row": len(manifest) * crops_per_photo, "rows": crops_per_photo})
    output_dir.mkdir(parents=True, exist_ok=True)
    np.save(output_dir / "images.npy", np.concatenate(arrays))
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    params = load_params()
    config = params["photo_patches"]
    manifest = make_photo_patches(
        source=Path(config["source"]),
        output_dir=Path(config["output_dir"]),
        crops_per_photo=config["crops_per_photo"],
        size=params["base"]["image_size"],
        seed=params["base"]["seed"],
    )
    print(f"{len(manifest)} photos, {len(manifest) * config['crops_per_photo']} patches in {config['output_dir']}")


if __name__ == "__main__":
    main()
