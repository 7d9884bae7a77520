"""The model card shipped beside `model.tflite`: what the model is, how well it does, where it came from.

Every figure comes from this pipeline's own files (evaluate's metrics,
export's LiteRT measurements), and the lineage from DVC's lock file: the
parameters the train stage ran with, the hash of the data it read, the git
commit. The serving side reads `threshold`, `unsure_band` and `scope` from
here, so a card is also configuration, and it must describe the model it
ships with, never the params file of the day.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from training.metrics import THRESHOLD_NOTES
from training.params import load_yaml

# A model may claim images larger than twice its input only with evidence: at most this share
# of large real camera photos called fake (issue 13's rule).
SCOPE_MAX_REAL_PHOTO_FPR = 0.05
LIMITATIONS = [
    "Input is 32x32 pixels: a large photo is judged from a 32x32 downscale of its central square, "
    "so generator artefacts finer than that are invisible to the model.",
    "Trained only on CIFAR-10 photographs (real) and Stable Diffusion 1.4 images of the same ten "
    "classes (fake); other generators, subjects, edits, screenshots and heavy compression are out "
    "of distribution and the verdict there is unreliable.",
    "A verdict is a statistical estimate, not proof of origin.",
]


def lineage(lock_path: Path, run_id: str | None, initialised_from: dict | None) -> dict:
    """Where the model came from: commit, lock-file hash, data and weights hashes, MLflow run."""
    lock_bytes = lock_path.read_bytes() if lock_path.exists() else b""
    stages = (load_yaml(lock_bytes) or {}).get("stages", {}) if lock_bytes else {}
    ingest, train = stages.get("ingest", {}), stages.get("train", {})
    # The dataset is ingest's one dependency that is not project code.
    source = next(
        (dep for dep in ingest.get("deps", []) if not dep["path"].startswith(("training/", "function_app/"))),
        {},
    )
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", *_inputs(stages))),
        "dvc_lock_sha256": hashlib.sha256(lock_bytes).hexdigest() if lock_bytes else None,
        "data": {
            "source": source.get("path"),
            "source_md5": source.get("md5"),
            "prepared_md5": next((out.get("md5") for out in ingest.get("outs", [])), None),
        },
        "weights_md5": next((out.get("md5") for out in train.get("outs", []) if out["path"].endswith(".h5")), None),
        "train_params": train.get("params", {}).get("params.yaml"),
        "mlflow_run_id": run_id,
        "initialised_from": initialised_from,
    }


def _inputs(stages: dict) -> list[str]:
    """What the pipeline reads (stage deps, dvc.yaml, params.yaml), not what it writes (stage outs,
    including those a later stage reads, such as evaluate's metrics for export).

    The stages write metrics, plots and the card into git-tracked files, so
    the working tree is always "dirty" while export runs; what lineage needs
    to know is whether the code and parameters behind the model are committed.
    """
    deps = {dep["path"] for stage in stages.values() for dep in stage.get("deps", [])}
    outs = {out["path"] for stage in stages.values() for out in stage.get("outs", [])}
    return sorted({"dvc.yaml", "params.yaml", *(path for path in deps - outs if not path.startswith(".."))})


def _git(*arguments: str) -> str | None:
    try:
        return subprocess.run(["git", *arguments], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def scope(image_size: int, robust: dict) -> dict:
    """The input sizes the model's verdicts are validated for, with the measurement behind the decision."""
    photos = robust.get("real_photos")
    measured = photos["share_called_fake"] if photos else None
    widened = measured is not None and measured <= SCOPE_MAX_REAL_PHOTO_FPR
    return {
        "max_short_side": None if widened else 2 * image_size,
        "why": (
            f"{measured:.1%} of {photos['count']} real camera photos larger than 256 px are called fake "
            f"(limit {SCOPE_MAX_REAL_PHOTO_FPR:.0%}), so larger images are in scope"
            if widened
            else "validated on CIFAKE's 32 px images only; on large real camera photos the model "
            + (f"calls {measured:.1%} of {photos['count']} fake" if photos else "was not measured")
            + f" (a wider scope needs at most {SCOPE_MAX_REAL_PHOTO_FPR:.0%}), so beyond twice its input size "
            "its score is reported but is not a verdict"
        ),
        "real_photos": photos,
    }


def unsure_band(evaluation: dict) -> dict:
    band = evaluation["unsure_band"]
    return {
        "low": band["low"],
        "high": band["high"],
        "val_accuracy_outside": band["accuracy_outside"],
        "val_share_inside": band["share_inside"],
        "val_errors_inside": band["errors_inside"],
        "target_accuracy": band["target_accuracy"],
        "confidence": band.get("confidence", 0.0),
        "test": band["test"],
        "note": (
            f"unsure when low <= P(fake) < high: the narrowest band around the threshold outside which "
            f"validation accuracy reaches {band['target_accuracy']:.0%}"
            + (f" (its {band['confidence']:.0%} Clopper-Pearson lower bound does)" if band.get("confidence") else "")
            + ", chosen on the validation split"
        ),
    }


def calibration(evaluation: dict) -> dict:
    """How served probabilities were calibrated: P = sigmoid((logit + logit_shift) / temperature)."""
    fitted = evaluation["calibration"]
    method = fitted["method"]
    return {
        "method": method,
        "temperature": fitted["temperature"],
        "logit_shift": fitted["logit_shift"],
        "note": (
            f"{method} scaling fitted on the validation split and folded into the output layer: "
            "P(fake) = sigmoid((logit + logit_shift) / temperature) of the trained model's logit"
        ),
    }


def model_card(
    model_bytes: bytes,
    chosen: str,
    results: dict,
    keras_metrics: dict,
    evaluation: dict,
    robust: dict,
    train_info: dict,
    context: dict,
) -> dict:
    """`context`: labels, model_config, ingest report, params, and the lineage record."""
    config, report = context["model_config"], context["ingest_report"]
    return {
        "name": "imageauth VGG16 real-vs-AI-generated detector",
        "version": hashlib.sha256(model_bytes).hexdigest()[:12],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "variant": chosen,
        "image_size": config["image_size"],
        "input": "RGB uint8 values as float32, shape [1, size, size, 3]; VGG16 preprocessing is inside the model",
        "output": "P(fake), float32 in [0, 1]",
        "labels": context["labels"],
        "threshold": evaluation["threshold"],
        "threshold_strategy": evaluation["threshold_strategy"],
        "threshold_note": THRESHOLD_NOTES[evaluation["threshold_strategy"]],
        "unsure_band": unsure_band(evaluation),
        "scope": scope(config["image_size"], robust),
        "calibration": calibration(evaluation),
        "flip_average": {
            "enabled": evaluation["flip_average"],
            "note": "the model scores the image and its mirror image and averages the logits, in one graph",
        },
        "metrics": results[chosen],
        "metrics_keras": keras_metrics,
        "variants": results,
        "robustness": robust,
        "dataset": {
            "source": Path(str(report["source"])).name,
            "counts": report["counts"],
            "duplicates_dropped": report.get("duplicates_dropped", 0),
            "rejected": report.get("rejected_count", 0),
        },
        "training": train_info,
        "weights_init": config["weights"],
        "mlflow_run_id": train_info.get("mlflow_run_id"),
        "lineage": context["lineage"],
        "params": context["params"],
        "limitations": LIMITATIONS,
    }
