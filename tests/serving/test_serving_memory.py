"""The server pins glibc's mmap threshold so that upload-sized buffers go back to the system."""

from __future__ import annotations

import sys

import pytest

from imageauth.memory import pin_mmap_threshold


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_mmap_threshold_is_pinned_on_linux():
    assert pin_mmap_threshold() is True


def test_serve_and_function_app_pin_it_at_start_up(repo_root):
    for path in ("function_app/imageauth/serve.py", "function_app/function_app.py"):
        assert "pin_mmap_threshold()" in (repo_root / path).read_text(), path
