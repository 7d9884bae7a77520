"""Reads the GitHub Actions workflows (YAML) and checks pinning, permissions and OIDC use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
GITHUB_OWNERS = {"actions", "github"}
OIDC_ACTIONS = ("azure/login@", "aws-actions/configure-aws-credentials@")
FULL_SHA = re.compile(r"@[0-9a-f]{40}$")


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def triggers(workflow: dict[str, Any]) -> Any:
    # PyYAML reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def uses_of(workflow: dict[str, Any]) -> list[str]:
    """Every `uses:` reference: reusable-workflow jobs and steps."""
    found = []
    for job in (workflow.get("jobs") or {}).values():
        if "uses" in job:
            found.append(job["uses"])
        found.extend(step["uses"] for step in job.get("steps") or [] if "uses" in step)
    return found


def unpinned_uses(workflow: dict[str, Any]) -> list[str]:
    """Actions not owned by GitHub that are not pinned to a full commit SHA."""
    bad = []
    for reference in uses_of(workflow):
        if reference.startswith("./"):
            continue
        if reference.startswith("docker://"):
            if "@sha256:" not in reference:
                bad.append(reference)
            continue
        owner = reference.split("/", 1)[0].lower()
        if owner not in GITHUB_OWNERS and not FULL_SHA.search(reference):
            bad.append(reference)
    return bad


def pins_without_version_comment(text: str) -> list[str]:
    """SHA-pinned `uses:` lines that do not say which release the SHA is (`# vX...`)."""
    bad = []
    for line in text.splitlines():
        match = re.search(r"uses:\s*(\S+@[0-9a-f]{40})\s*(#.*)?$", line)
        if match and not re.match(r"#\s*v\d", match.group(2) or ""):
            bad.append(match.group(1))
    return bad


def permission_problems(workflow: dict[str, Any]) -> list[str]:
    """Missing `permissions:` (workflow and each job), write-all, and id-token misuse."""
    problems = []
    if "permissions" not in workflow:
        problems.append("workflow has no permissions")
    top = workflow.get("permissions")
    if top in ("write-all", "read-all") or (isinstance(top, dict) and "id-token" in top):
        problems.append(f"workflow-level permissions {top!r}")
    for name, job in (workflow.get("jobs") or {}).items():
        if "permissions" not in job:
            problems.append(f"job {name} has no permissions")
            continue
        permissions = job["permissions"] or {}
        if isinstance(permissions, str):
            problems.append(f"job {name} permissions {permissions!r}")
            continue
        signs_in = any(ref.startswith(OIDC_ACTIONS) for ref in uses_of({"jobs": {name: job}}))
        wants_token = permissions.get("id-token") == "write"
        if wants_token and not signs_in:
            problems.append(f"job {name} has id-token: write but no OIDC sign-in")
        if signs_in and not wants_token:
            problems.append(f"job {name} signs in with OIDC without id-token: write")
    return problems


def secrets_referenced(text: str) -> set[str]:
    return set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", text))


def variables_referenced(text: str) -> set[str]:
    return set(re.findall(r"vars\.([A-Za-z_][A-Za-z0-9_]*)", text))


def python_versions(workflow: dict[str, Any]) -> list[str]:
    """Python of every `python:X.Y...` job container and setup-python step (${{ env.X }} resolved)."""
    versions = []
    for job in (workflow.get("jobs") or {}).values():
        container = job.get("container")
        image = container.get("image", "") if isinstance(container, dict) else str(container or "")
        if image.startswith("python:"):
            versions.append(re.match(r"python:(\d+\.\d+)", image).group(1))
        env = {**(workflow.get("env") or {}), **(job.get("env") or {})}
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                value = str((step.get("with") or {}).get("python-version", ""))
                match = re.fullmatch(r"\$\{\{\s*env\.(\w+)\s*\}\}", value)
                versions.append(str(env.get(match.group(1), "")) if match else value)
    return versions


def step_index(job: dict[str, Any], predicate) -> int:
    for index, step in enumerate(job.get("steps") or []):
        if predicate(step):
            return index
    return -1
