"""The page's static configuration: the two copies of the CSP agree, and the deploy workflow's
placeholders (docs/site.md) are where it expects them. No browser needed."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

SITE = Path(__file__).resolve().parents[2] / "static_site"
DEPLOY_ANCHOR = "connect-src 'self'"
CSP = "Content-Security-Policy"


def directives(policy: str) -> dict[str, str]:
    parsed = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            parsed[name] = value.strip()
    return parsed


def meta_policy(path: Path = SITE / "index.html") -> str:
    html = path.read_text(encoding="utf-8")
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert match, "index.html has no CSP meta tag"
    return match.group(1)


def header_policy() -> str:
    config = json.loads((SITE / "staticwebapp.config.json").read_text(encoding="utf-8"))
    return config["globalHeaders"][CSP]


def test_meta_and_header_policies_agree() -> None:
    header = directives(header_policy())
    # frame-ancestors only works as a header; a meta tag carrying it is ignored with a warning.
    assert header.pop("frame-ancestors") == "'none'"
    assert directives(meta_policy()) == header


def test_policy_allows_only_self_until_deployed() -> None:
    for policy in (meta_policy(), header_policy()):
        parsed = directives(policy)
        assert parsed["default-src"] == "'none'"
        assert parsed["connect-src"] == "'self'"
        assert all("unsafe" not in value and "*" not in value for value in parsed.values())
        # The deploy workflow appends the API origin right after this text, once per file.
        assert policy.count(DEPLOY_ANCHOR) == 1


def test_config_defaults_to_same_origin() -> None:
    config = (SITE / "config.js").read_text(encoding="utf-8")
    assert re.search(r'^export const API_BASE_URL = "";$', config, re.MULTILINE)


def test_page_loads_nothing_from_elsewhere() -> None:
    for path in SITE.glob("*.*"):
        if path.suffix in {".html", ".js", ".css"}:
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(src|href)=\"(https?:)?//", text), f"{path.name} loads a remote resource"
            assert "@import url(http" not in text


def test_deploy_script_points_both_policies_and_config_at_the_api(tmp_path: Path) -> None:
    """The deploy workflow's configure_site.py must allow the API origin everywhere the page's CSP lives.

    Both copies of the policy are enforced: a meta tag left at `connect-src 'self'` would block
    every call to the deployed API even though the header allows it.
    """
    script = SITE.parent / ".github" / "scripts" / "configure_site.py"
    spec = importlib.util.spec_from_file_location("configure_site", script)
    configure_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(configure_site)
    site_copy = tmp_path / "static_site"
    shutil.copytree(SITE, site_copy)
    origin = "https://func-imageauth-x.azurewebsites.net"

    configure_site.configure_site(site_copy, origin)

    config = (site_copy / "config.js").read_text(encoding="utf-8")
    assert f'export const API_BASE_URL = "{origin}";' in config
    header = directives(json.loads((site_copy / "staticwebapp.config.json").read_text())["globalHeaders"][CSP])
    meta = directives(meta_policy(site_copy / "index.html"))
    assert header["connect-src"].split() == ["'self'", origin]
    assert meta["connect-src"].split() == ["'self'", origin]


def documented_error_codes() -> set[str]:
    """Every code in the error table of docs/api.md."""
    api = (SITE.parent / "docs" / "api.md").read_text(encoding="utf-8")
    errors = api.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", errors, re.MULTILINE))


def test_every_documented_error_code_has_a_title_on_the_page() -> None:
    rows = (SITE / "rows.js").read_text(encoding="utf-8")
    block = re.search(r"const ERROR_TITLES = \{(.*?)\n\};", rows, re.DOTALL)
    assert block, "rows.js has no ERROR_TITLES"
    titled = set(re.findall(r"^\s+([a-z_]+):", block.group(1), re.MULTILINE))
    codes = documented_error_codes()
    assert {"overloaded", "decode_too_large", "image_too_complex"} <= codes
    assert codes - titled == set()
