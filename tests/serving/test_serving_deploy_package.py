"""The deployable package predicts on its own: no repository, no editable install, no TensorFlow.

Builds what the deploy workflow ships (`function_app/` minus `.funcignore`,
plus `pip install -r requirements.txt --target .python_packages/lib/site-packages`,
the layout the Functions host puts on `sys.path`), then imports
`function_app.py` in a fresh virtual environment and answers a real request,
one of whose files carries C2PA Content Credentials, so the packaged native
c2pa library is loaded and validates a manifest, and one is a HEIC, decoded by
the packaged pi-heif in the app's decoder child process. The package size is written to
test-artifacts/deploy-package.json; the zip must stay within 100 MB.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from credentials import encode, photo, sign
from script_loader import load_script
from serving_helpers import REPO_ROOT
from urllib3 import encode_multipart_formdata

from imageauth.predict import predict_bytes
from imageauth.settings import Settings

FUNCTION_APP_DIR = REPO_ROOT / "function_app"
PACKAGES = Path(".python_packages") / "lib" / "site-packages"
PRUNE_SCRIPT = REPO_ROOT / "scripts" / "prune_packages.py"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install_package_deps.py"
INSTALL = load_script("scripts/install_package_deps.py")
# The deploy workflow's bytecode step, run in function_app/ (deploy.yml says why).
COMPILE = ["-m", "compileall", "-q", "-f", "-j", "0", "--invalidation-mode", "unchecked-hash", "."]
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based, sources not checked
MAX_ZIP_BYTES = 100 * 10**6

# Runs inside the fresh environment: the Functions host's sys.path, then one HTTP invocation.
PROBE = """
import asyncio, importlib.util, json, sys
app_root, packages, body_path, content_type = sys.argv[1:5]
sys.path[:0] = [app_root, packages]
import azure.functions as func
import function_app
import imageauth
import azure.identity, azure.storage.blob  # the blob trigger's SDK, cryptography's native module with it
from cryptography.hazmat.bindings import _rust
handler = {f.get_function_name(): f for f in function_app.app.get_functions()}["http_app_func"].get_user_function()
request = func.HttpRequest(method="POST", url="http://localhost/api/predict",
                           headers={"Content-Type": content_type}, body=open(body_path, "rb").read())
response = asyncio.run(handler(request, None))
print(json.dumps({
    "status": response.status_code,
    "body": json.loads(response.get_body()),
    "imageauth": imageauth.__path__[0],
    "c2pa": getattr(sys.modules.get("c2pa"), "__file__", None),
    "pi_heif": getattr(sys.modules.get("pi_heif"), "__file__", None),
    "cryptography": _rust.__file__,
    "tensorflow": [name for name in ("tensorflow", "keras", "tf_keras") if importlib.util.find_spec(name)],
    "sources": [m.__file__ for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).endswith(".py")],
}))
"""


def build_package(target: Path) -> None:
    ignored = [line.strip().rstrip("/") for line in (FUNCTION_APP_DIR / ".funcignore").read_text().splitlines()]
    patterns = [line for line in ignored if line and not line.startswith("#")]
    shutil.copytree(FUNCTION_APP_DIR, target, ignore=shutil.ignore_patterns(*patterns))
    # What the deploy workflow runs: wheels for the runtime's Python and glibc (scripts/install_package_deps.py).
    install = [sys.executable, str(INSTALL_SCRIPT), str(target / "requirements.txt"), str(target / PACKAGES)]
    subprocess.run(install, check=True, timeout=900, stdout=subprocess.DEVNULL)
    # What the deploy workflow runs next: build artefacts out (scripts/prune_packages.py).
    subprocess.run([sys.executable, str(PRUNE_SCRIPT), str(target / PACKAGES)], check=True, timeout=60)
    subprocess.run([sys.executable, *COMPILE], cwd=target, check=True, timeout=600)


def wheel_tags(site_packages: Path) -> dict[str, list[str]]:
    """Each installed distribution's wheel tags, from its `*.dist-info/WHEEL` (pip --target keeps them)."""
    tags = {}
    for wheel in site_packages.glob("*.dist-info/WHEEL"):
        name = wheel.parent.name.split("-")[0].lower().replace("_", "-")
        lines = wheel.read_text().splitlines()
        tags[name] = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]
    return tags


def glibc_minors(tags: list[str]) -> list[int]:
    """The glibc minor version each `manylinux_2_X` platform tag needs (legacy manylinux names: 17 or less)."""
    platforms = [tag.rsplit("-", 1)[-1] for tag in tags]
    return [int(platform.split("_")[2]) for platform in platforms if platform.startswith("manylinux_2_")]


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
    credentials = sign(encode(photo(), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia")
    files = [("file", ("photo.jpg", images["photo.jpg"], "image/jpeg"))]
    files.append(("file", ("credentials.jpg", credentials, "image/jpeg")))
    files.append(("file", ("phone.avif", images["phone.avif"], "image/avif")))  # the wheel's own libavif
    files.append(("file", ("iphone.heic", images["iphone.heic"], "image/heic")))  # pi-heif's libheif
    body, content_type = encode_multipart_formdata(files)
    (tmp_path / "body").write_bytes(body)
    # -B: like the read-only mounted package, where nothing can be written next to the sources.
    command = [str(environment / "bin" / "python"), "-I", "-B", "-c", PROBE, str(package), str(package / PACKAGES)]
    finished = subprocess.run(
        [*command, str(tmp_path / "body"), content_type], capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    probe = json.loads(finished.stdout.strip().splitlines()[-1])
    assert probe["tensorflow"] == []
    assert Path(probe["imageauth"]).resolve() == (package / "imageauth").resolve()
    assert probe["status"] == 200, probe["body"]
    item, signed, avif, heic = probe["body"]["results"]
    # The packaged c2pa library read and validated the manifest.
    assert Path(probe["c2pa"]).resolve().is_relative_to((package / PACKAGES).resolve())
    assert signed["verdict"] == "ai_generated_by_credentials", signed
    assert signed["evidence"][0]["status"] == "valid"
    assert not list(package.rglob("*.rlib")), "build artefacts must be pruned from the package"
    # The blob path's native code loaded from the package, and every wheel loads on the runtime's glibc.
    assert Path(probe["cryptography"]).resolve().is_relative_to((package / PACKAGES).resolve())
    newest = {name: max(glibc_minors(tags), default=0) for name, tags in wheel_tags(package / PACKAGES).items()}
    assert "cryptography" in newest and "numpy" in newest, newest
    assert {name: minor for name, minor in newest.items() if minor > INSTALL.RUNTIME_GLIBC_MINOR} == {}
    # Every module the app imported from the package has bytecode that Python uses without a check.
    packaged = [Path(path) for path in probe["sources"] if Path(path).resolve().is_relative_to(package.resolve())]
    assert len(packaged) > 100 and any(path.name == "predict.py" for path in packaged)
    for source in packaged:
        header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH_FLAGS, source
    expected = predict_bytes(images["photo.jpg"], "photo.jpg", Settings())
    # Same model and same code; only the resolved library versions could differ from this checkout's.
    assert item["probability_fake"] == pytest.approx(expected["probability_fake"], abs=1e-5)
    same = ("sha256", "width", "height", "verdict", "note", "evidence")
    assert {key: item[key] for key in same} == {key: expected[key] for key in same}
    expected_avif = predict_bytes(images["phone.avif"], "phone.avif", Settings())
    assert avif["probability_fake"] == pytest.approx(expected_avif["probability_fake"], abs=1e-5)
    assert {key: avif[key] for key in same} == {key: expected_avif[key] for key in same}
    # The HEIC was decoded by the app's child process (imageauth/heif_process.py) with the packaged
    # pi-heif, the only one this environment has; the serving process never loaded it.
    assert probe["pi_heif"] is None
    expected_heic = predict_bytes(images["iphone.heic"], "iphone.heic", Settings())
    assert heic["probability_fake"] == pytest.approx(expected_heic["probability_fake"], abs=1e-5)
    assert {key: heic[key] for key in same} == {key: expected_heic[key] for key in same}
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
    assert sizes["zip_bytes"] <= MAX_ZIP_BYTES, sizes


def test_the_deploy_workflow_prunes_and_compiles_what_the_package_test_does():
    workflow = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    assert "python ../scripts/prune_packages.py .python_packages/lib/site-packages" in workflow
    assert f"python {' '.join(COMPILE)}" in workflow
    zip_line = next(line for line in workflow.splitlines() if "zip -qr" in line)
    assert "__pycache__" not in zip_line, "the bytecode must go into the zip"


def test_the_package_gets_wheels_for_the_runtime_not_the_build_machine():
    """The workflow installs through the script, whose Python is the one the infrastructure runs,
    and whose platforms stop at the runtime's glibc and include the in-between manylinux tags
    (ai-edge-litert and numpy publish manylinux_2_27 wheels, which pip would not infer)."""
    workflow = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    assert "python ../scripts/install_package_deps.py requirements.txt .python_packages/lib/site-packages" in workflow
    assert f'PYTHON_VERSION: "{INSTALL.PYTHON_VERSION}"' in workflow
    bicep = (REPO_ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")
    assert f"param pythonVersion string = '{INSTALL.PYTHON_VERSION}'" in bicep
    tags = INSTALL.platform_tags()
    assert tags[0] == f"manylinux_2_{INSTALL.RUNTIME_GLIBC_MINOR}_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64"} <= set(tags)
    assert max(glibc_minors([f"cp311-cp311-{tag}" for tag in tags])) == INSTALL.RUNTIME_GLIBC_MINOR
    command = INSTALL.pip_command(Path("requirements.txt"), Path("target"))
    assert "--only-binary=:all:" in command and command[command.index("--python-version") + 1] == "3.11"
