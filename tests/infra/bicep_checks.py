"""Reads the Bicep files as text: no Bicep compiler runs here (the deploy workflow compiles them).

Each checker returns what it found wrong, so a test can run it on the real files and on a bad
snippet alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

KEY_LISTING = re.compile(r"\blist(Keys|ConnectionStrings|AccountSas|ServiceSas|Secrets)\s*\(", re.IGNORECASE)
ACCOUNT_KEY = re.compile(r"AccountKey\s*=", re.IGNORECASE)
RESOURCE_HEADER = re.compile(r"^\s*resource\s+(\w+)\s+'([^']+)'(?:\s+existing)?\s*=\s*(?:\[|\{)", re.MULTILINE)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def strip_comments(text: str) -> str:
    """Remove // and /* */ comments, leaving '...' string literals (which may hold //) intact."""
    out: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == "'":
            end = index + 1
            while end < length and text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            out.append(text[index : end + 1])
            index = end + 1
        elif text.startswith("//", index):
            newline = text.find("\n", index)
            index = length if newline == -1 else newline
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = length if close == -1 else close + 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def key_material(text: str) -> list[str]:
    """Ways a storage key or SAS could reach a setting: list*() calls and AccountKey= strings."""
    return [m.group(0) for m in KEY_LISTING.finditer(text)] + [m.group(0) for m in ACCOUNT_KEY.finditer(text)]


def cors_wildcards(text: str) -> list[str]:
    """A '*' string literal anywhere in Bicep code (CORS origins included) is a finding."""
    return re.findall(r"'\*'", strip_comments(text))


def shared_key_problems(storage_text: str) -> list[str]:
    code = strip_comments(storage_text)
    problems = []
    if not re.search(r"\ballowSharedKeyAccess:\s*false\b", code):
        problems.append("allowSharedKeyAccess: false is missing")
    if re.search(r"\ballowSharedKeyAccess:\s*true\b", code):
        problems.append("allowSharedKeyAccess: true")
    if not re.search(r"\ballowBlobPublicAccess:\s*false\b", code):
        problems.append("allowBlobPublicAccess: false is missing")
    return problems


def param_allowed(text: str, name: str) -> list[str] | None:
    """The values of the `@allowed([...])` decorator right above `param <name>`, unquoted; None if it has none."""
    pattern = rf"@allowed\(\[([^\]]*)\]\)\s*(?:@\w+\([^)]*\)\s*)*param\s+{re.escape(name)}\b"
    match = re.search(pattern, strip_comments(text))
    return [value.strip("'") for value in match.group(1).split()] if match else None


def param_default(text: str, name: str) -> str | None:
    """The default of `param <name> <type> = <literal>`, without quotes; None if absent."""
    match = re.search(rf"^\s*param\s+{re.escape(name)}\s+\w+\s*=\s*(.+?)\s*$", strip_comments(text), re.MULTILINE)
    return match.group(1).strip("'") if match else None


def object_keys(text: str) -> set[str]:
    """Every `key:` of an object literal (quoted or not, one per line or `{ a: 1, b: 2 }`)."""
    pattern = r"(?:^|[{,])\s*'?([A-Za-z_][A-Za-z0-9_.]*)'?\s*:"
    return set(re.findall(pattern, strip_comments(text), re.MULTILINE))


def outputs(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*output\s+(\w+)\s+(\w+)\s*=", strip_comments(text), re.MULTILINE))


@dataclass(frozen=True)
class Resource:
    symbol: str
    type_and_version: str
    body: str


def resources(text: str) -> list[Resource]:
    """Top-level and nested `resource` declarations with their brace-matched bodies."""
    code = strip_comments(text)
    found = []
    for match in RESOURCE_HEADER.finditer(code):
        start = code.index("{", match.start())
        depth, index = 0, start
        while index < len(code):
            depth += {"{": 1, "}": -1}.get(code[index], 0)
            if depth == 0:
                break
            index += 1
        found.append(Resource(match.group(1), match.group(2), code[start : index + 1]))
    return found


def role_assignments(rbac_text: str) -> dict[str, tuple[str, str]]:
    """symbol -> (role key in the `roles` map, scope expression) for each role assignment."""
    assignments = {}
    for resource in resources(rbac_text):
        if not resource.type_and_version.startswith("Microsoft.Authorization/roleAssignments@"):
            continue
        role = re.search(r"roles\.(\w+)\)", resource.body)
        scope = re.search(r"^\s*scope:\s*(\S+)", resource.body, re.MULTILINE)
        assignments[resource.symbol] = (role.group(1) if role else "", scope.group(1) if scope else "")
    return assignments


def json_parameter_values(path: Path) -> list[object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [entry.get("value") for entry in data.get("parameters", {}).values()]


MODULE_HEADER = re.compile(r"^\s*module\s+(\w+)\s+'([^']+)'\s*=\s*\{", re.MULTILINE)


def _block(code: str, open_index: int) -> str:
    """The brace-matched block that starts at code[open_index] == '{'."""
    depth = 0
    for index in range(open_index, len(code)):
        depth += {"{": 1, "}": -1}.get(code[index], 0)
        if depth == 0:
            return code[open_index : index + 1]
    raise ValueError("unbalanced braces")


def top_level_keys(block: str) -> list[str]:
    """Keys of the object literal `block` itself, not of the objects nested in it."""
    keys, depth = [], 0
    for line in block.splitlines():
        if depth == 1:
            match = re.match(r"^\s*'?(\w+)'?\s*:", line)
            if match:
                keys.append(match.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return keys


def declared_params(text: str) -> dict[str, bool]:
    """param name -> whether it is required (declared without a default)."""
    found = re.findall(r"^\s*param\s+(\w+)\s+\w+(\s*=)?", strip_comments(text), re.MULTILINE)
    return {name: not default for name, default in found}


def module_calls(text: str) -> dict[str, tuple[str, list[str]]]:
    """module symbol -> (path, keys passed in `params`)."""
    code = strip_comments(text)
    calls = {}
    for match in MODULE_HEADER.finditer(code):
        body = _block(code, code.index("{", match.start()))
        params = re.search(r"^\s*params:\s*\{", body, re.MULTILINE)
        passed = top_level_keys(_block(body, body.index("{", params.start()))) if params else []
        calls[match.group(1)] = (match.group(2), passed)
    return calls


def module_problems(path: Path) -> list[str]:
    """What `az bicep build` would reject in module calls: unknown files, params and outputs."""
    text = read(path)
    problems = []
    calls = module_calls(text)
    for symbol, (relative, passed) in calls.items():
        target = path.parent / relative
        if not target.is_file():
            problems.append(f"{symbol}: no file {relative}")
            continue
        declared = declared_params(read(target))
        problems += [f"{symbol}: {relative} has no param {name}" for name in passed if name not in declared]
        problems += [
            f"{symbol}: required param {name} of {relative} is not passed"
            for name, required in declared.items()
            if required and name not in passed
        ]
        available = outputs(read(target))
        for used in re.findall(rf"\b{symbol}\.outputs\.(\w+)", strip_comments(text)):
            if used not in available:
                problems.append(f"{symbol}: {relative} has no output {used}")
    return problems
