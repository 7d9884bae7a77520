"""The deployable package predicts on its own: no repository, no editable install, no TensorFlow.

Builds what the deploy workflow ships (`function_app/` minus `.funcignore`,
plus `pip install -r requirements.txt --target .python_packages/lib/site-packages`,
the layout the Functions host puts on `sys.path`), then imports
`function_app.py` in a fresh virtual environment and answers a real request.
The package size is written to test-artifacts/deploy-package.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from serving_helpers import REPO_ROOT
from urllib3 import encode_multipart_formdata

from imageauth.predict import predict_bytes
from imageauth.settings import Settings

FUNCTION_APP_DIR = REPO_ROOT / "function_app"
PACKAGES = Path(".python_packages") / "lib" / "site-packages"

# Runs inside the fresh environment: the Functions host's sys.path, then one HTTP invocation.
PROBE = """
import asyncio, importlib.util, json, sys
app_root, packages, body_path, content_type = sys.argv[1:5]
sys.path[:0] = [app_root, packages]
import azure.functions as func
import function_app
import imageauth
handler = {f.get_function_name(): f for f in function_app.app.get_functions()}["http_app_func"].get_user_function()
request = func.HttpRequest(method="POST", url="http://localhost/api/predict",
                           headers={"Content-Type": content_type}, body=open(body_path, "rb").read())
response = asyncio.run(handler(request, None))
print(json.dumps({
    "status": response.status_code,
    "body": json.loads(response.get_body()),
    "imageauth": imageauth.__path__[0],
    "tensorflow": [name for name in ("tensorflow", "keras", "tf_keras") if importlib.util.find_spec(name)],
}))
"""


def build_package(target: Path) -> None:
    ignored = [line.strip().rstrip("/") for line in (FUNCTION_APP_DIR / ".funcignore").read_text().splitlines()]
    patterns = [line for line in ignored if line and not line.startswith("#")]
    shutil.copytree(FUNCTION_APP_DIR, target, ignore=shutil.ignore_patterns(*patterns))
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-compile"]
    pip += ["--target", str(target / PACKAGES), "-r", str(target / "requirements.txt")]
    subprocess.run(pip, check=True, timeout=900)


def tree_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and not file.is_symlink())


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_deploy_package_predicts_in_a_fresh_environment_without_tensorflow(tmp_path, images):
    package = tmp_path / "package"
    build_package(package)
    assert not any(package.rglob("tensorflow")), "TensorFlow must not be in the deploy package"
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    body, content_type = encode_multipart_formdata([("file", ("photo.jpg", images["photo.jpg"], "image/jpeg"))])
    (tmp_path / "body").write_bytes(body)
    command = [str(environment / "bin" / "python"), "-I", "-c", PROBE, str(package), str(package / PACKAGES)]
    finished = subprocess.run(
        [*command, str(tmp_path / "body"), content_type], capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    probe = json.loads(finished.stdout.strip().splitlines()[-1])
    assert probe["tensorflow"] == []
    assert Path(probe["imageauth"]).resolve() == (package / "imageauth").resolve()
    assert probe["status"] == 200, probe["body"]
    [item] = probe["body"]["results"]
    expected = predict_bytes(images["photo.jpg"], "photo.jpg", Settings())
    # Same model and same code; only the resolved library versions could differ from this checkout's.
    assert item["probability_fake"] == pytest.approx(expected["probability_fake"], abs=1e-5)
    assert {key: item[key] for key in ("sha256", "width", "height")} == {
        key: expected[key] for key in ("sha256", "width", "height")
    }
    archive = shutil.make_archive(str(tmp_path / "package"), "zip", package)
    sizes = {
        "package_bytes": tree_size(package),
        "packages_bytes": tree_size(package / PACKAGES),
        "model_bytes": tree_size(package / "model"),
        "zip_bytes": Path(archive).stat().st_size,
    }
    artifacts = REPO_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "deploy-package.json").write_text(json.dumps(sizes, indent=2) + "\n")
    print("deploy package:", {key: f"{value / 2**20:.1f} MiB" for key, value in sizes.items()})
