"""Coverage-guided fuzzing of `imageauth.preprocess.load_image` with atheris (optional, long runs).

The Hypothesis tests in tests/reliability run on every test command; this
target is for hours-long runs that follow coverage into Pillow's decoders.
Any exception other than `ImageError` is a finding: atheris stops and writes
the input as `crash-*` in the working folder.

    pip install atheris
    python fuzz/fuzz_preprocess.py --make-seeds /tmp/imageauth-fuzz-seeds
    python fuzz/fuzz_preprocess.py /tmp/imageauth-fuzz-seeds \\
        -atheris_runs=200000 -max_len=65536 -timeout=5 -rss_limit_mb=2048

The seeds are generated (small images of every allowed format), outside the
repository; the pixel limit is lowered so a header claiming a huge canvas is
rejected instead of exhausting the fuzzer's memory. Run it from a scratch
folder: atheris writes its findings into the working folder.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

SIZE = 32
MAX_PIXELS = 4_000_000


def make_seeds(folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    picture = Image.linear_gradient("L").resize((24, 18)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    rgba = picture.convert("RGBA")
    variants = {
        "photo.jpg": (picture, "JPEG", {"exif": exif.tobytes()}),
        "progressive.jpg": (picture, "JPEG", {"progressive": True}),
        "cmyk.jpg": (picture.convert("CMYK"), "JPEG", {}),
        "rgb.png": (picture, "PNG", {}),
        "palette.png": (picture.convert("P"), "PNG", {"transparency": 0}),
        "grey16.png": (picture.convert("I;16"), "PNG", {}),
        "still.webp": (picture, "WEBP", {}),
        "animated.gif": (picture.convert("P"), "GIF", {"save_all": True, "append_images": [picture.convert("P")]}),
        "plain.bmp": (picture, "BMP", {}),
        "lzw.tif": (picture, "TIFF", {"compression": "tiff_lzw"}),
        "still.avif": (picture, "AVIF", {}),
        "alpha-sequence.avif": (rgba, "AVIF", {"save_all": True, "append_images": [rgba]}),
        "still.heic": (picture, "HEIF", {"exif": exif.tobytes()}),
    }
    for name, (image, fmt, options) in variants.items():
        buffer = io.BytesIO()
        if fmt == "HEIF":  # pi-heif, which serving uses, only decodes; pillow-heif (a dev package) encodes
            import pillow_heif

            pillow_heif.from_pillow(image).save(buffer, **options)
        else:
            image.save(buffer, fmt, **options)
        (folder / name).write_bytes(buffer.getvalue())
    print(f"{len(variants)} seeds in {folder}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-seeds":
        make_seeds(Path(sys.argv[2]))
        return
    import atheris

    with atheris.instrument_imports():
        import PIL.Image  # noqa: F401 - instrumented so coverage guides into the decoders

        from imageauth.preprocess import ImageError, load_image

    def test_one_input(data: bytes) -> None:
        with contextlib.suppress(ImageError):
            load_image(data, SIZE, max_pixels=MAX_PIXELS)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
