"""The detector at serving time: a TFLite model run by LiteRT, plus its model card.

No TensorFlow here: LiteRT's interpreter loads in milliseconds, which is what
a serverless cold start pays for. The export stage evaluates every exported
variant through this same class, so the probabilities it reports are the ones
the API, the blob trigger and the CLI return.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


class Detector:
    """One LiteRT interpreter and its card; safe to share between threads."""

    def __init__(self, model_path: Path, card: dict, num_threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.card = card
        self._interpreter = Interpreter(model_path=str(self.model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        # An interpreter holds one set of tensors: concurrent invokes would overwrite each other.
        self._lock = threading.Lock()
        height, width = (int(v) for v in self._input["shape"][1:3])
        if height != width:
            raise ValueError(f"model input must be square, got {height}x{width}")
        self.image_size = height
        # Read once, so that a malformed override fails at start-up rather than on every request.
        override = os.environ.get("IMAGEAUTH_THRESHOLD", "").strip()
        self._threshold = float(override) if override else float(card.get("threshold", 0.5))
        if not 0.0 < self._threshold < 1.0:
            raise ValueError(f"the decision threshold must be between 0 and 1, got {self._threshold}")

    @classmethod
    def from_dir(cls, model_dir: Path | str | None = None, num_threads: int | None = None) -> Detector:
        """Load `model.tflite` and `model.json` from `model_dir` (default: `IMAGEAUTH_MODEL_DIR` or the bundled one)."""
        directory = Path(model_dir or os.environ.get("IMAGEAUTH_MODEL_DIR") or DEFAULT_MODEL_DIR)
        # A model without its card would serve with a made-up threshold and version: refuse it.
        card = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        return cls(directory / "model.tflite", card, num_threads=num_threads)

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unversioned"))

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def labels(self) -> list[str]:
        return list(self.card.get("labels", ["real", "fake"]))

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """P(fake) for a batch of uint8 RGB images shaped (N, size, size, 3)."""
        if pixels.ndim == 3:
            pixels = pixels[np.newaxis]
        if pixels.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"expected (N, {self.image_size}, {self.image_size}, 3), got {pixels.shape}")
        batch = self._to_input_dtype(pixels)
        results = np.empty(len(batch), dtype=np.float32)
        with self._lock:
            for index in range(len(batch)):
                self._interpreter.set_tensor(self._input["index"], batch[index : index + 1])
                self._interpreter.invoke()
                results[index] = self._from_output(self._interpreter.get_tensor(self._output["index"]))
        return results

    def _to_input_dtype(self, pixels: np.ndarray) -> np.ndarray:
        dtype = self._input["dtype"]
        if dtype == np.float32:
            return pixels.astype(np.float32)
        scale, zero_point = self._input["quantization"]
        quantized = np.round(pixels.astype(np.float32) / scale + zero_point)
        info = np.iinfo(dtype)
        return np.clip(quantized, info.min, info.max).astype(dtype)

    def _from_output(self, value: np.ndarray) -> float:
        if self._output["dtype"] == np.float32:
            return float(value.reshape(-1)[0])
        scale, zero_point = self._output["quantization"]
        return float((value.reshape(-1)[0].astype(np.float32) - zero_point) * scale)
