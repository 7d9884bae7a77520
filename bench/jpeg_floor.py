"""How fast can a 12-megapixel JPEG become a 32x32 input at all? The floor under issue 4's 8x target.

The serving bench measures imageauth's whole warm request against the seed's
Keras path on the same 12 MP JPEG. This script splits out the one step no
decoder can skip: reading the whole entropy-coded file. At 1/8 DCT scale a
decoder still Huffman-decodes every coefficient of every block (the codes have
variable length, so without restart markers there is nothing to skip to);
only the inverse DCT gets cheaper. So the best possible imageauth latency is
at least the 1/8-scale decode time, and the best possible speed-up over the
seed is the seed's latency divided by it.

The seed's path (Keras `load_img` to 32x32, then `predict` on an untrained VGG16
of the same shape) is timed in the same process, on the same file, as the
baseline. Prints a table and writes bench/results/jpeg_floor.json. `simplejpeg` (another
libjpeg-turbo binding) is measured too when installed, to show that the floor
is libjpeg-turbo's, not Pillow's.
Usage: python bench/jpeg_floor.py [--repeats N]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "function_app"))
sys.path.insert(0, str(ROOT / "bench"))

from serving import make_images  # noqa: E402

from imageauth.preprocess import load_image  # noqa: E402

RESULTS_PATH = ROOT / "bench/results/jpeg_floor.json"


def median_ms(step: Callable[[], object], repeats: int) -> float:
    step()
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations)


def measure(path: Path, data: bytes, repeats: int) -> dict:
    """Time each step on the file; print the table; return the report."""

    def pillow(scale: int) -> Callable[[], object]:
        def decode() -> Image.Image:
            image = Image.open(io.BytesIO(data))
            image.draft("RGB", (image.width // scale, image.height // scale))
            image.load()
            return image

        return decode

    steps = {
        "Pillow, full size": pillow(1),
        "Pillow, 1/8 DCT scale (entropy decoding of the whole file)": pillow(8),
        "imageauth load_image (1/8 decode + RGB + 32x32 resize)": lambda: load_image(data, 32),
    }
    try:
        import simplejpeg

        steps["simplejpeg, 1/8 DCT scale"] = lambda: simplejpeg.decode_jpeg(data, min_height=375, min_width=500)
    except ImportError:
        pass
    import keras
    import numpy as np

    from training.prepare_base_model import build_model

    model = build_model(32, None, 256, 0.3, 42)

    def seed_path() -> object:
        pixels = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(32, 32)))
        return model.predict(np.expand_dims(pixels, 0), verbose=0)

    steps["seed: Keras load_img(32x32) + predict (baseline)"] = seed_path
    steps["seed: Keras load_img(32x32) alone"] = lambda: keras.utils.load_img(path, target_size=(32, 32))
    timings = {name: median_ms(step, repeats) for name, step in steps.items()}
    floor = timings["Pillow, 1/8 DCT scale (entropy decoding of the whole file)"]
    seed = timings["seed: Keras load_img(32x32) + predict (baseline)"]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "jpeg_bytes": len(data),
        "median_ms": timings,
        "best_possible_speedup": seed / floor,
        "latency_needed_for_8x_ms": seed / 8,
    }
    rows = [(name, f"{ms:.1f}", f"{seed / ms:.1f}x") for name, ms in timings.items()]
    print(f"12 MP JPEG, {len(data) / 1e6:.1f} MB, median of {repeats}:")
    print(tabulate(rows, headers=["step", "ms", "seed / step"]))
    print(
        f"\n8x over the seed needs <= {seed / 8:.1f} ms; "
        f"decoding the file at 1/8 scale alone takes {floor:.1f} ms: at most {seed / floor:.1f}x is possible"
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        make_images(Path(folder))
        path = Path(folder) / "large.jpg"
        data = path.read_bytes()
        report = measure(path, data, arguments.repeats)
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
