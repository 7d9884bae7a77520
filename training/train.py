"""Stage `train`: the one trainer of the shipped model, on a CPU or a borrowed accelerator.

Keras 3 with the backend the environment names (`KERAS_BACKEND`: TensorFlow
on a CPU, JAX or PyTorch on a GPU), so the same module and the same
`params.yaml` train everywhere. Everything that decides what the model
learns is in the `train` section and read here alone: initial weights,
optimizer and weight decay, loss and label smoothing, schedule, augmentation,
EMA, epochs and an optional time budget.

A run survives being killed: the epoch plan, the MLflow run id, the epoch log
and a Keras BackupAndRestore state live in `state_dir`, outside the DVC
outputs (which DVC deletes before re-running a stage). Running the stage
again continues the same schedule, the same data order and the same MLflow
run from the last finished epoch. Without MLflow (a GPU machine) the outputs
folder is the run record, and `training.import_run` logs it afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from training.arrays import load_split
from training.batches import Batches, loader_options, validation_arrays
from training.callbacks import MlflowEpochLogger, ThroughputLogger, TimeBudget
from training.params import flatten, load_params
from training.prepare_base_model import VGG16_BLOCKS, architecture, build_model, set_trainable_blocks
from training.resume import (
    ResumableSwapEMAWeights,
    fingerprint,
    finished_epochs,
    forget_unfinished_epochs,
    load_state,
    logged_steps,
    save_state,
)
from training.run_record import best_epoch, describe_cpu, describe_gpus
from training.schedule import learning_rate
from training.warm_start import initialise


class Logit(keras.layers.Layer):
    """The output layer's value before its sigmoid, computed with that layer's own weights."""

    def __init__(self, dense: keras.layers.Dense, **kwargs) -> None:
        super().__init__(dtype="float32", **kwargs)
        self.dense = dense

    def call(self, features):
        return keras.ops.matmul(keras.ops.cast(features, "float32"), self.dense.kernel) + self.dense.bias


def logit_view(model: keras.Model) -> keras.Model:
    """The model up to its logit, sharing every weight: what the loss is computed on, on every backend.

    Binary cross-entropy on a sigmoid's output is computed from the cached
    logit by TensorFlow but from the clipped probability by JAX and PyTorch,
    where a saturated output gets no gradient and a from-scratch run never
    leaves chance. From the logit, every backend computes the same loss.
    """
    output = model.get_layer("probability_fake")
    return keras.Model(model.inputs, Logit(output, name="logit")(output.input), name=f"{model.name}_logit")


def compile_model(model: keras.Model, config: dict, steps_per_epoch: int) -> None:
    schedule = learning_rate(
        config["lr_schedule"], config["learning_rate"], config["epochs"], steps_per_epoch, config["warmup_epochs"]
    )
    # An exponential moving average of the weights (validated and saved in place of the raw weights,
    # see SwapEMAWeights in `fit`) smooths out the last epochs' step-to-step noise.
    ema = {"use_ema": True, "ema_momentum": config["ema_momentum"]} if config["ema_momentum"] else {}
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config["weight_decay"], **ema),
        # Smoothing keeps the logits from growing without bound late in a long run; evaluate's
        # temperature scaling undoes the under-confidence it leaves.
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config["label_smoothing"]),
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
            keras.metrics.AUC(name="auc", from_logits=True),
        ],
    )


def fit(
    model, data, state_dir: Path, config: dict, seed: int, resumed_epochs: int, mlflow_on: bool
) -> tuple[Path, bool]:
    """Run the planned epochs; return the best epoch's weights (lowest validation loss) and whether all ran.

    "All ran" is false only when the time budget cut the plan short: early
    stopping is part of the recipe, a budget cut is not.
    """
    (x_train, y_train), (x_val, y_val) = data["train"], data["val"]
    recipe = {"flip": config["augment"]["flip"], "translate": config["augment"]["translate"], **config["degrade"]}
    batches = Batches(x_train, y_train, config["batch_size"], seed, recipe, **loader_options())
    batches.set_epoch(resumed_epochs)
    x_val, y_val = validation_arrays(x_val, y_val, seed, config["degrade"], config["validate_degraded"])
    history_csv, best_path = state_dir / "history.csv", state_dir / "best.weights.h5"
    forget_unfinished_epochs(history_csv, resumed_epochs)
    best_so_far = best_epoch(history_csv)["val_loss"] if resumed_epochs and history_csv.exists() else None
    budget = TimeBudget(config["time_budget_minutes"] * 60) if config.get("time_budget_minutes") else None
    callbacks = [
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        *([MlflowEpochLogger(logged_steps() if resumed_epochs else frozenset())] if mlflow_on else []),
        # The averaged weights are validated and checkpointed in place of the raw ones.
        *([ResumableSwapEMAWeights(restored=resumed_epochs > 0)] if config["ema_momentum"] else []),
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["early_stopping_patience"]),
        ThroughputLogger(config["batch_size"], len(batches)),
        *([budget] if budget else []),
        # Last: an epoch the backup counts as finished has its log row, MLflow metrics and checkpoint
        # written; a kill anywhere before it re-runs the epoch, with the same result.
        keras.callbacks.BackupAndRestore(str(state_dir / "backup")),
    ]
    with batches:  # stops the augmentation processes however training ends
        model.fit(
            batches,
            validation_data=(x_val.astype(np.float32), y_val.astype(np.float32)),
            validation_batch_size=512,
            epochs=config["epochs"],
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
    return best_path, not (budget and budget.stopped)


def train(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    base_model_path: Path,
    output_dir: Path,
    state_dir: Path,
    model_config: dict,
    config: dict,
    seed: int,
    run_params: dict | None = None,
) -> dict:
    """Train; write `model.weights.h5` (best epoch), `history.csv`, `train.json` and learning curves."""
    from training import tracking

    state = load_state(state_dir, fingerprint({"model": model_config, "train": config, "seed": seed}))
    started = time.time()
    if config["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(seed=seed, **{**model_config, "weights": None})
    model.load_weights(base_model_path)
    lineage = initialise(model, config.get("init_from"))
    set_trainable_blocks(model, min(config["trainable_blocks"], VGG16_BLOCKS))
    probability_model, model = model, logit_view(model)
    compile_model(model, config, -(-len(data["train"][0]) // config["batch_size"]))
    mlflow = tracking.start_run(state.get("mlflow_run_id"))
    if mlflow and "mlflow_run_id" not in state:
        state["mlflow_run_id"] = mlflow.active_run().info.run_id
        mlflow.log_params(flatten(run_params or {"model": model_config, "train": config}))
        mlflow.set_tags({"hardware": _hardware(), "framework": _framework(), "stage": "train"})
    save_state(state_dir, state)
    resumed = finished_epochs(state_dir / "backup")
    try:
        best_path, complete = fit(model, data, state_dir, config, seed, resumed, bool(mlflow))
    except BaseException:
        # The run is resumable: mark it killed rather than leave it active in this process (or "running"
        # in the tracking store); the next run of the stage reopens it by id.
        if mlflow:
            mlflow.end_run(status="KILLED")
        raise
    state["seconds_before"] += time.time() - started
    save_state(state_dir, state)

    # Weights alone (no optimizer state): the float model that evaluate and export read.
    model.load_weights(best_path)
    weights_only = build_model(seed=seed, **{**model_config, "weights": None})
    weights_only.set_weights(probability_model.get_weights())
    output_dir.mkdir(parents=True, exist_ok=True)
    weights_only.save_weights(output_dir / "model.weights.h5")
    shutil.copyfile(state_dir / "history.csv", output_dir / "history.csv")
    summary = {
        "mlflow_run_id": state.get("mlflow_run_id"),
        "complete": complete,
        **best_epoch(output_dir / "history.csv"),
        "train_images": len(data["train"][0]),
        "val_images": len(data["val"][0]),
        "training_seconds": round(state["seconds_before"], 1),
        "hardware": _hardware(),
        "framework": _framework(),
        "initialised_from": lineage,
    }
    (output_dir / "train.json").write_text(json.dumps(summary, indent=2))
    from training.plots import plot_learning_curves

    plot_learning_curves(output_dir / "history.csv", output_dir / "learning_curves.png")
    if mlflow:
        tracking.finish_train_run(output_dir, summary)
    shutil.rmtree(state_dir)
    return summary


def _hardware() -> str:
    return f"{describe_gpus() or 'no GPU'} + {describe_cpu()} CPU threads"


def _framework() -> str:
    return f"keras {keras.__version__} on {keras.backend.backend()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, help="train from a data pack (training.pack) instead of ingest's arrays")
    arguments = parser.parse_args()
    params = load_params()
    if arguments.pack:
        from training.pack import read_pack

        data = read_pack(arguments.pack)
    else:
        data = {split: load_split(Path(params["ingest"]["output_dir"]), split) for split in ("train", "val")}
    summary = train(
        data=data,
        base_model_path=Path(params["prepare_base_model"]["output"]),
        output_dir=Path(params["train"]["output_dir"]),
        state_dir=Path(params["train"]["state_dir"]),
        model_config=architecture(params),
        config=params["train"],
        seed=params["base"]["seed"],
        run_params=params,
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
