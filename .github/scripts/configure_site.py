"""Point the static page at the deployed API before it is uploaded.

Run by the deploy workflow on the checked-out `static_site/` (never committed):

- `config.js`: the `API_BASE_URL` export gets the function app's origin; every other export stays.
- `staticwebapp.config.json`: the Content-Security-Policy's `connect-src` gets the same origin,
  so the browser lets the page call the API and nothing else. A `__API_ORIGIN__` placeholder is
  replaced if the policy has one; otherwise the origin is appended to `connect-src`.

Usage: python .github/scripts/configure_site.py --site-dir static_site --api-base-url https://func-x.azurewebsites.net
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

API_BASE_URL_LINE = re.compile(r'^export const API_BASE_URL = "[^"]*";$', re.MULTILINE)
PLACEHOLDER = "__API_ORIGIN__"
CSP_HEADER = "Content-Security-Policy"
META_CSP = re.compile(r'(<meta http-equiv="Content-Security-Policy" content=")([^"]+)(">)')


def origin_of(url: str) -> str:
    """The scheme://host[:port] of an https URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ValueError(f"expected an https origin such as https://func-x.azurewebsites.net, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def configure_config_js(text: str, origin: str) -> str:
    """Set the API_BASE_URL export; fail if the file no longer has exactly one such line."""
    updated, count = API_BASE_URL_LINE.subn(f'export const API_BASE_URL = "{origin}";', text)
    if count != 1:
        raise ValueError(f"config.js must contain exactly one line matching {API_BASE_URL_LINE.pattern}")
    return updated


def configure_csp(policy: str, origin: str) -> str:
    """Allow `origin` in connect-src (placeholder first, else appended to the directive)."""
    if PLACEHOLDER in policy:
        return policy.replace(PLACEHOLDER, origin)
    directives = [directive.strip() for directive in policy.split(";") if directive.strip()]
    for index, directive in enumerate(directives):
        name, *sources = directive.split()
        if name == "connect-src":
            if origin not in sources:
                directives[index] = " ".join([name, *sources, origin])
            return "; ".join(directives)
    raise ValueError("the Content-Security-Policy has no connect-src directive")


def configure_meta_csp(html: str, origin: str) -> str:
    """The same change in index.html's CSP meta tag, which the browser enforces alongside the header."""
    updated, count = META_CSP.subn(lambda match: match[1] + configure_csp(match[2], origin) + match[3], html)
    if count != 1:
        raise ValueError("index.html must contain exactly one Content-Security-Policy meta tag")
    return updated


def configure_site(site_dir: Path, api_base_url: str) -> None:
    origin = origin_of(api_base_url)
    config_js = site_dir / "config.js"
    config_js.write_text(configure_config_js(config_js.read_text(encoding="utf-8"), origin), encoding="utf-8")
    swa_config_path = site_dir / "staticwebapp.config.json"
    swa_config = json.loads(swa_config_path.read_text(encoding="utf-8"))
    headers = swa_config.get("globalHeaders", {})
    if CSP_HEADER not in headers:
        raise ValueError(f"{swa_config_path} has no globalHeaders.{CSP_HEADER}")
    headers[CSP_HEADER] = configure_csp(headers[CSP_HEADER], origin)
    swa_config_path.write_text(json.dumps(swa_config, indent=2) + "\n", encoding="utf-8")
    index_html = site_dir / "index.html"
    index_html.write_text(configure_meta_csp(index_html.read_text(encoding="utf-8"), origin), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", type=Path, default=Path("static_site"))
    parser.add_argument("--api-base-url", required=True)
    arguments = parser.parse_args(argv)
    try:
        configure_site(arguments.site_dir, arguments.api_base_url)
    except (OSError, ValueError) as error:
        print(f"configure_site: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
