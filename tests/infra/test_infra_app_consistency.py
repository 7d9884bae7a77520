"""The infrastructure agrees with the code it deploys: settings, containers, function name, page."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from app_code import FUNCTION_APP, blob_bindings, deployed_modules, entry_modules, settings_read, string_constants
from bicep_checks import INFRA, ROOT, object_keys, param_default, read, strip_comments

from imageauth.settings import Settings

MAIN = INFRA / "main.bicep"
EVENTGRID = INFRA / "eventgrid.bicep"
SITE = ROOT / "static_site"


def bicep_setting_names() -> set[str]:
    return object_keys(read(MAIN))


def missing_settings(read_names: set[str], defined: set[str]) -> set[str]:
    """Names the code reads that the Bicep neither sets nor configures as a connection prefix."""
    return {
        name for name in read_names if name not in defined and not any(key.startswith(f"{name}__") for key in defined)
    }


def trigger():
    bindings = [b for b in blob_bindings(entry_modules()) if b.kind == "blob_trigger"]
    if not bindings:
        pytest.skip("function_app/ has no blob trigger yet (function_app.py is not written)")
    assert len(bindings) == 1, bindings
    return bindings[0]


def test_every_setting_the_code_reads_is_in_the_bicep():
    names = settings_read(deployed_modules())
    assert "IMAGEAUTH_MAX_BYTES" in names or not (FUNCTION_APP / "imageauth" / "settings.py").exists()
    assert missing_settings(names, bicep_setting_names()) == set()


def test_the_settings_check_catches_a_missing_setting():
    defined = {"IMAGEAUTH_MAX_BYTES", "IMAGEAUTH_STORAGE__blobServiceUri"}
    assert missing_settings({"IMAGEAUTH_MAX_BYTES", "IMAGEAUTH_STORAGE"}, defined) == set()
    assert missing_settings({"IMAGEAUTH_MAX_FILES"}, defined) == {"IMAGEAUTH_MAX_FILES"}


def test_settings_reader_finds_environ_and_constants(tmp_path: Path):
    module = tmp_path / "example.py"
    module.write_text(
        "import os\n"
        "A = os.environ.get('IMAGEAUTH_A', '')\n"
        "B = os.getenv('OTHER_B')\n"
        "C = os.environ['IMAGEAUTH_C']\n"
        "NAME = 'IMAGEAUTH_D'\n"
        "HOST = os.environ.get('WEBSITE_HOSTNAME')\n"
    )
    assert settings_read([module]) == {"IMAGEAUTH_A", "OTHER_B", "IMAGEAUTH_C", "IMAGEAUTH_D"}


def test_trigger_uses_event_grid_and_an_identity_connection():
    binding = trigger()
    assert binding.source == "EventGrid"
    assert binding.connection, "the blob trigger needs connection= (an identity-based prefix)"
    defined = bicep_setting_names()
    for suffix in ("blobServiceUri", "queueServiceUri", "credential", "clientId"):
        assert f"{binding.connection}__{suffix}" in defined


def test_container_names_match_the_bindings():
    main = read(MAIN)
    containers = {param_default(main, f"{name}ContainerName") for name in ("deployment", "images", "results")}
    binding = trigger()
    assert binding.container == param_default(main, "imagesContainerName")
    for other in blob_bindings(entry_modules()):
        assert other.container in containers, other
    # The results are written with the SDK (imageauth/storage.py) or an output binding.
    results = param_default(main, "resultsContainerName")
    written = {b.container for b in blob_bindings(entry_modules()) if b.kind == "blob_output"}
    assert results in written or results in string_constants(deployed_modules()), "nothing names `results`"


def test_limit_defaults_are_the_code_defaults():
    """A deployment without overrides gets the limits the docs and the tests describe (the Bicep sets every one)."""
    code = Settings()
    main = read(MAIN)
    for param, value in {
        "maxBytes": code.max_bytes,
        "maxRequestBytes": code.max_request_bytes,
        "maxFiles": code.max_files,
        "maxPixels": code.max_pixels,
        "maxDecodeBytes": code.max_decode_bytes,
    }.items():
        assert param_default(main, param) == str(value), param


def test_event_grid_endpoint_names_the_blob_trigger():
    binding = trigger()
    text = read(EVENTGRID)
    code = strip_comments(text)
    assert param_default(text, "functionName") == binding.function
    assert param_default(text, "containerName") == binding.container
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${blobsExtensionKey}" in code
    assert "subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'" in code
    assert "'Microsoft.Storage.BlobCreated'" in code
    assert re.search(r"@secure\(\)\s*(@description\([^)]*\)\s*)?param blobsExtensionKey string", code)


def test_binding_parser_reads_decorators(tmp_path: Path):
    module = tmp_path / "function_app.py"
    module.write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "CONNECTION = 'X'\n"
        "@app.function_name(name='renamed')\n"
        "@app.blob_trigger(arg_name='b', path='images/{name}', connection=CONNECTION,\n"
        "                  source=func.BlobSource.EVENT_GRID)\n"
        "@app.blob_output(arg_name='o', path='results/{name}.json', connection='X')\n"
        "def handler(b, o): ...\n"
    )
    kinds = {(b.kind, b.function, b.container, b.connection, b.source) for b in blob_bindings([module])}
    assert kinds == {
        ("blob_trigger", "renamed", "images", "X", "EventGrid"),
        ("blob_output", "renamed", "results", "X", None),
    }


def test_requirements_exist_for_packaging():
    if not (FUNCTION_APP / "function_app.py").exists():
        pytest.skip("function_app/function_app.py is not written yet")
    requirements = (FUNCTION_APP / "requirements.txt").read_text(encoding="utf-8")
    for package in ("azure-functions", "ai-edge-litert", "azurefunctions-extensions-bindings-blob"):
        assert package in requirements


def test_blob_trigger_concurrency_and_retries_are_bounded():
    """The blob trigger runs off an internal queue, so host.json's `queues` settings decide how many
    blobs an instance works on at once and how failures are retried (the defaults: 24 at once, five
    immediate tries). Each blob in flight may hold up to IMAGEAUTH_MAX_BYTES outside the decode
    budget; a failure (a result write before a role assignment has spread, say) is tried again a
    minute later, several times, before the blob's message goes to the poison queue."""
    queues = json.loads((FUNCTION_APP / "host.json").read_text(encoding="utf-8"))["extensions"]["queues"]
    in_flight = queues["batchSize"] + queues["newBatchThreshold"]
    assert in_flight <= 8
    assert in_flight * Settings().max_bytes <= 2048 * 2**20 // 8  # an eighth of the smallest instance
    hours, minutes, seconds = (int(part) for part in queues["visibilityTimeout"].split(":"))
    assert 3600 * hours + 60 * minutes + seconds >= 30
    assert queues["maxDequeueCount"] >= 5


def load_configure_site():
    path = ROOT / ".github" / "scripts" / "configure_site.py"
    spec = importlib.util.spec_from_file_location("configure_site", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_script_points_the_real_page_at_the_api(tmp_path: Path):
    if not (SITE / "config.js").exists():
        pytest.skip("static_site/config.js is not written yet")
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    configure_site = load_configure_site()
    assert configure_site.main(["--site-dir", str(site), "--api-base-url", "https://func-x.azurewebsites.net"]) == 0
    config = (site / "config.js").read_text(encoding="utf-8")
    assert 'export const API_BASE_URL = "https://func-x.azurewebsites.net";' in config
    original = (SITE / "config.js").read_text(encoding="utf-8")
    assert config.count("export const") == original.count("export const")
    policy = (site / "staticwebapp.config.json").read_text(encoding="utf-8")
    connect = re.search(r"connect-src ([^;\"]*)", policy).group(1).split()
    assert connect[0] == "'self'" and "https://func-x.azurewebsites.net" in connect
    assert "__API_ORIGIN__" not in policy


def test_deploy_script_refuses_what_it_cannot_configure():
    configure_site = load_configure_site()
    with pytest.raises(ValueError):
        configure_site.configure_config_js("export const OTHER = 1;\n", "https://x")
    with pytest.raises(ValueError):
        configure_site.origin_of("http://insecure.example")
    with pytest.raises(ValueError):
        configure_site.configure_csp("default-src 'none'", "https://x")
    assert configure_site.configure_csp("connect-src __API_ORIGIN__", "https://x") == "connect-src https://x"
