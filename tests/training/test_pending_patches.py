"""Every patch waiting in docs/pending/ still applies to this checkout.

The fixes there change what `dvc.lock` records for the train stage, so they
land only with a retrain, which may be sessions away; meanwhile any change to
the files they touch would leave a patch that no longer applies, found only
on the day of the retrain. (Deleted with the retrain that applies them; then
there is nothing to check.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PATCHES = sorted((REPO_ROOT / "docs" / "pending").glob("*.patch"))


@pytest.mark.parametrize("patch", PATCHES, ids=[patch.name for patch in PATCHES])
def test_the_pending_patch_applies_to_this_checkout(patch: Path):
    check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=REPO_ROOT, capture_output=True, text=True)
    if check.returncode != 0 and applied(patch):
        pytest.skip(f"{patch.name} is applied in this working tree (the retrain is under way): nothing to check")
    assert check.returncode == 0, f"{patch.name} no longer applies: {check.stderr}"


def applied(patch: Path) -> bool:
    """Whether the working tree already holds the patch: it then applies in reverse."""
    reverse = ["git", "apply", "--reverse", "--check", str(patch)]
    return subprocess.run(reverse, cwd=REPO_ROOT, capture_output=True).returncode == 0
