"""MLflow set-up shared by the stages: local store by default, DagsHub when configured.

Tracking URI precedence: `MLFLOW_TRACKING_URI` if set; else DagsHub when both
`DAGSHUB_REPO_OWNER` and `DAGSHUB_REPO_NAME` are set (with `DAGSHUB_USER_TOKEN`
for authentication); else `sqlite:///mlflow.db` in the working directory,
which git ignores and which supports the Model Registry.
"""

from __future__ import annotations

import os

import mlflow

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = os.environ.get("IMAGEAUTH_EXPERIMENT", "imageauth")
REGISTERED_MODEL = "imageauth-detector"


def configure() -> str:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        owner, name = os.environ.get("DAGSHUB_REPO_OWNER"), os.environ.get("DAGSHUB_REPO_NAME")
        if owner and name:
            import dagshub

            dagshub.init(repo_owner=owner, repo_name=name, mlflow=True)
        else:
            mlflow.set_tracking_uri(DEFAULT_TRACKING_URI)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow.get_tracking_uri()
