"""The learning-rate schedule of the train stage."""

from __future__ import annotations

import keras


def learning_rate(schedule: str, peak: float, epochs: int, steps: int, warmup_epochs: float):
    """Cosine decay to 1 % of `peak` over the phase, after an optional linear warm-up from `peak / 10`."""
    if schedule == "constant":
        return peak
    if schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r} (cosine or constant)")
    warmup_steps = int(round(min(warmup_epochs, max(epochs - 1, 0)) * steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10 if warmup_steps else peak,
        decay_steps=max(epochs * steps - warmup_steps, 1),
        alpha=0.01,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )
