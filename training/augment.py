"""Training-time image degradations, applied to both classes alike.

Why: trained on clean CIFAKE, the model learned how each class was shrunk
(CIFAR-10's photographs and the Stable Diffusion images went through
different resamplers) instead of how it was made, so a little blur or a
different resize filter flipped its verdict. Degrading real and fake images
with the same random blur, resampling, sharpening, noise and JPEG
re-compression (Wang et al., "CNN-generated images are surprisingly easy to
spot... for now", CVPR 2020, scaled to 32 px) takes that shortcut away.

Everything here is numpy and Pillow on uint8 arrays, so it runs the same
under every Keras backend and in the data loader's worker threads.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

FILTERS = (
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.BOX,
    Image.Resampling.LANCZOS,
    Image.Resampling.NEAREST,
)


def shift_and_flip(images: np.ndarray, rng: np.random.Generator, flip: bool, translate: int) -> np.ndarray:
    """Shift each image by up to `translate` pixels (reflect padding) and mirror half of them, in one gather."""
    count, size = images.shape[:2]
    rows = np.arange(size)[None, :].repeat(count, 0)
    cols = rows.copy()
    if translate:
        images = np.pad(images, [(0, 0), (translate, translate), (translate, translate), (0, 0)], mode="reflect")
        rows = rows + rng.integers(0, 2 * translate + 1, (count, 1))
        cols = cols + rng.integers(0, 2 * translate + 1, (count, 1))
    if flip:
        flipped = rng.random(count) < 0.5
        cols[flipped] = cols[flipped, ::-1]
    index = np.arange(count)[:, None, None]
    return images[index, rows[:, :, None], cols[:, None, :]]


def _uniform(rng: np.random.Generator, bounds) -> float:
    low, high = bounds
    return float(rng.uniform(low, high))


def _resize_round_trip(image: Image.Image, rng: np.random.Generator, sizes) -> Image.Image:
    size = image.width
    smaller = int(rng.integers(sizes[0], sizes[1] + 1))
    down, up = rng.choice(len(FILTERS), 2)
    return image.resize((smaller, smaller), FILTERS[down]).resize((size, size), FILTERS[up])


def _thumbnail_round_trip(image: Image.Image, rng: np.random.Generator, large: int) -> Image.Image:
    """Up to `large` px with a random filter, back with Lanczos: what serving does to an upscaled copy."""
    size = image.width
    up = FILTERS[int(rng.integers(len(FILTERS)))]
    return image.resize((large, large), up).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)


def jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """One JPEG encode and decode with Pillow's defaults (4:2:0): training's degradation and evaluation's."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def degrade(pixels: np.ndarray, rng: np.random.Generator, recipe: dict) -> np.ndarray:
    """One image (H×W×3 uint8) through each degradation of `recipe` that its coin toss picks.

    Order follows an image's life: resampled, then blurred or sharpened, then
    sensor-like noise, then JPEG-compressed last, as a platform would.
    """
    image = Image.fromarray(pixels)
    if (step := recipe.get("resize")) and rng.random() < step["p"]:
        image = _resize_round_trip(image, rng, step["sizes"])
    elif (step := recipe.get("thumbnail")) and rng.random() < step["p"]:
        image = _thumbnail_round_trip(image, rng, step["size"])
    if (step := recipe.get("blur")) and rng.random() < step["p"]:
        image = image.filter(ImageFilter.GaussianBlur(_uniform(rng, step["sigma"])))
    elif (step := recipe.get("sharpen")) and rng.random() < step["p"]:
        amount = _uniform(rng, step["amount"])
        image = image.filter(ImageFilter.UnsharpMask(_uniform(rng, step["sigma"]), int(amount * 100), 0))
    if (step := recipe.get("noise")) and rng.random() < step["p"]:
        noisy = np.asarray(image, np.float32) + rng.normal(0.0, _uniform(rng, step["sigma"]), pixels.shape)
        image = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    if (step := recipe.get("jpeg")) and rng.random() < step["p"]:
        image = jpeg_round_trip(image, int(rng.integers(step["quality"][0], step["quality"][1] + 1)))
    return np.asarray(image, np.uint8)


def augment_batch(images: np.ndarray, rng: np.random.Generator, recipe: dict) -> np.ndarray:
    """Shifts and flips for the whole batch, then the per-image degradations of `recipe`."""
    images = shift_and_flip(images, rng, recipe.get("flip", False), recipe.get("translate", 0))
    degradations = {key: value for key, value in recipe.items() if isinstance(value, dict)}
    if not degradations:
        return images
    return np.stack([degrade(image, rng, degradations) for image in images])
