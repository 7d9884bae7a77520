"""The Bicep files, read as text: security properties, Flex Consumption settings, roles, outputs."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from bicep_checks import (
    INFRA,
    ROOT,
    bicep_files,
    cors_wildcards,
    declared_params,
    json_parameter_values,
    key_material,
    module_problems,
    object_keys,
    outputs,
    param_allowed,
    param_default,
    read,
    resources,
    role_assignments,
    shared_key_problems,
    strip_comments,
)

MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"


def pyproject_python() -> str:
    """The one minor version that requires-python allows, e.g. '3.11' for '>=3.11,<3.12'."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    lower = re.search(r">=\s*(\d+)\.(\d+)", spec)
    upper = re.search(r"<\s*(\d+)\.(\d+)", spec)
    assert lower and upper, f"requires-python {spec!r} should pin one minor version"
    major, minor = int(lower.group(1)), int(lower.group(2))
    assert (int(upper.group(1)), int(upper.group(2))) == (major, minor + 1), spec
    return f"{major}.{minor}"


def test_the_expected_files_exist():
    for name in ("main.bicep", "main.parameters.json", "eventgrid.bicep"):
        assert (INFRA / name).is_file(), name
    for name in ("identity", "storage", "monitoring", "functionapp", "staticwebapp", "rbac", "systemtopic"):
        assert (MODULES / f"{name}.bicep").is_file(), name


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_no_key_material_and_no_cors_wildcard(path):
    text = read(path)
    assert key_material(text) == []
    assert cors_wildcards(text) == []


def test_the_checkers_catch_bad_snippets():
    assert key_material("value: storage.listKeys().keys[0].value") == ["listKeys("]
    assert key_material("'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${key}'") == ["AccountKey="]
    assert cors_wildcards("cors: {\n  allowedOrigins: [\n    '*'\n  ]\n}") == ["'*'"]
    # A wildcard mentioned in a comment is not code; a URL with // inside a string is not a comment.
    assert cors_wildcards("// never '*'\nvalue: 'https://x'") == []
    assert strip_comments("a: 'https://x' // note") == "a: 'https://x' "
    assert shared_key_problems("allowSharedKeyAccess: true\nallowBlobPublicAccess: false") == [
        "allowSharedKeyAccess: false is missing",
        "allowSharedKeyAccess: true",
    ]


def test_parameter_file_has_no_wildcard_or_key():
    for value in json_parameter_values(INFRA / "main.parameters.json"):
        assert value != "*" and "AccountKey=" not in str(value)


def test_storage_is_keyless_and_private():
    assert shared_key_problems(read(MODULES / "storage.bicep")) == []
    code = strip_comments(read(MODULES / "storage.bicep"))
    assert "minimumTlsVersion: 'TLS1_2'" in code
    assert "publicAccess: 'None'" in code


def test_containers_are_deployment_images_results_deadletter():
    main = read(MAIN)
    names = ("deployment", "images", "results", "deadLetter")
    defaults = {name: param_default(main, f"{name}ContainerName") for name in names}
    assert defaults == dict(zip(names, ("deployment", "images", "results", "deadletter"), strict=True))
    created = re.search(r"containerNames:\s*\[(.*?)\]", strip_comments(main), re.DOTALL).group(1).split()
    assert created == [f"{name}ContainerName" for name in names]
    # The code names `images` and `results`: an override would create containers nothing uses.
    assert param_allowed(main, "imagesContainerName") == ["images"]
    assert param_allowed(main, "resultsContainerName") == ["results"]
    assert param_allowed(read(INFRA / "eventgrid.bicep"), "containerName") == ["images"]


def test_param_allowed_reads_the_decorator_of_that_param_only():
    text = "@allowed([\n  'a'\n  'b'\n])\n@description('x')\nparam first string = 'a'\nparam second string = 'b'\n"
    assert param_allowed(text, "first") == ["a", "b"]
    assert param_allowed(text, "second") is None


def test_function_app_is_flex_consumption_python_https_only():
    code = strip_comments(read(MODULES / "functionapp.bicep"))
    for expected in (
        "tier: 'FlexConsumption'",
        "name: 'FC1'",
        "httpsOnly: true",
        "minTlsVersion: '1.2'",
        "name: 'python'",
        "version: pythonVersion",
        "instanceMemoryMB: instanceMemoryMB",
        "maximumInstanceCount: maximumInstanceCount",
        "type: 'UserAssignedIdentity'",
        "allowedOrigins: allowedOrigins",
    ):
        assert expected in code, expected
    # App Service site properties that Flex Consumption rejects with ARM error 51021 (or ignores).
    for rejected in ("ftpsState", "linuxFxVersion", "alwaysOn", "use32BitWorkerProcess", "netFrameworkVersion"):
        assert rejected not in code, rejected
    assert re.search(r"name: 'ftp'\s*properties: \{\s*allow: false", code), "FTP publishing must stay off"
    main = read(MAIN)
    assert param_default(main, "instanceMemoryMB") == "2048"
    assert param_default(main, "maximumInstanceCount") is not None
    code = strip_comments(main)
    assert "allowedOrigins: concat(staticWebAppOrigins, extraAllowedOrigins)" in code
    assert re.search(r"var staticWebAppOrigins = \[\s*staticWebApp\.outputs\.url\s*\]", code)
    assert param_default(main, "extraAllowedOrigins") == "[]"


def test_python_version_matches_pyproject():
    assert param_default(read(MAIN), "pythonVersion") == pyproject_python()


def test_one_user_assigned_identity_and_identity_based_connections():
    identities = [
        r
        for path in bicep_files()
        for r in resources(read(path))
        if r.type_and_version.startswith("Microsoft.ManagedIdentity/userAssignedIdentities@")
    ]
    assert len(identities) == 1
    keys = object_keys(read(MAIN))
    for prefix in ("AzureWebJobsStorage", "IMAGEAUTH_STORAGE"):
        for suffix in ("blobServiceUri", "queueServiceUri", "credential", "clientId"):
            assert f"{prefix}__{suffix}" in keys
        # A plain `<prefix>:` setting would be a connection string.
        assert prefix not in keys
    assert "AzureWebJobsStorage__credential: 'managedidentity'" in read(MAIN)
    assert "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in keys
    assert "DisableLocalAuth: true" in read(MODULES / "monitoring.bicep")


def test_roles_are_scoped_narrowly():
    assignments = role_assignments(read(MODULES / "rbac.bicep"))
    assert sorted(assignments.values()) == sorted(
        [
            ("storageBlobDataOwner", "storage"),
            ("storageQueueDataContributor", "storage"),
            ("storageTableDataContributor", "storage"),
            ("storageBlobDataReader", "storage::blobService::images"),
            ("storageBlobDataContributor", "storage::blobService::results"),
            ("monitoringMetricsPublisher", "applicationInsights"),
        ]
    )
    role_ids = dict(re.findall(r"^\s*(\w+):\s*'([0-9a-f-]{36})'", read(MODULES / "rbac.bicep"), re.MULTILINE))
    assert role_ids == {
        "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "storageBlobDataReader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    }


def test_the_deploy_workflow_gets_data_access_to_the_two_containers_only_when_asked():
    module = read(MODULES / "smoketest.bicep")
    assert sorted(role_assignments(module).values()) == [
        ("storageBlobDataContributor", "storage::blobService::images"),
        ("storageBlobDataContributor", "storage::blobService::results"),
    ]
    assert "principalType: 'ServicePrincipal'" in module
    main = strip_comments(read(MAIN))
    assert re.search(r"module \w+ 'modules/smoketest\.bicep' = if \(!empty\(smokeTestPrincipalId\)\)", main)
    assert param_default(main, "smokeTestPrincipalId") == ""


def test_names_come_from_one_token_and_can_be_overridden():
    main = strip_comments(read(MAIN))
    assert main.count("uniqueString(") == 1
    derived = re.findall(r"^\s*(\w+):\s*!empty\((\w+)\)\s*\?\s*\2\s*:\s*'[^']*\$\{resourceToken\}'", main, re.MULTILINE)
    assert {name for _, name in derived} >= {
        "identityName",
        "storageAccountName",
        "functionAppName",
        "staticWebAppName",
        "systemTopicName",
    }
    for _, name in derived:
        assert param_default(main, name) == "", name


def test_outputs_are_upper_snake_and_cover_the_workflows():
    declared = outputs(read(MAIN))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in declared)
    assert set(declared) >= {
        "AZURE_FUNCTION_APP_NAME",
        "API_BASE_URL",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "STATIC_WEB_APP_URL",
        "STATIC_WEB_APP_NAME",
        "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME",
    }


def test_the_deploying_identity_may_assign_every_role_the_bicep_assigns():
    """docs/deploy.md limits the deploying identity to these role ids; a new role must be added there."""
    role_ids = set().union(*(re.findall(r"'([0-9a-f-]{36})'", read(path)) for path in MODULES.glob("*.bicep")))
    roles_line = re.search(r'^ROLES="([^"]*)"', (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert roles_line, "docs/deploy.md should set ROLES for the role-assignment condition"
    assert set(re.split(r",\s*", roles_line.group(1))) == role_ids


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_module_calls_match_the_modules(path):
    assert module_problems(path) == []


def test_the_module_checker_catches_mistakes(tmp_path):
    (tmp_path / "child.bicep").write_text("param name string\nparam size int = 1\noutput id string = name\n")
    parent = tmp_path / "parent.bicep"
    parent.write_text(
        "module child 'child.bicep' = {\n"
        "  name: 'child'\n"
        "  params: {\n"
        "    sise: 2\n"
        "    nested: {\n"
        "      name: 'not a param of child'\n"
        "    }\n"
        "  }\n"
        "}\n"
        "module gone 'missing.bicep' = {\n  name: 'gone'\n}\n"
        "output x string = child.outputs.idd\n"
    )
    assert module_problems(parent) == [
        "child: child.bicep has no param sise",
        "child: child.bicep has no param nested",
        "child: required param name of child.bicep is not passed",
        "child: child.bicep has no output idd",
        "gone: no file missing.bicep",
    ]


def test_parameter_files_and_cli_parameters_match_the_templates():
    main_params = declared_params(read(MAIN))
    given = set(json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"])
    assert given <= set(main_params)
    assert {name for name, required in main_params.items() if required} <= given
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    eventgrid_step = deploy.split("--template-file infra/eventgrid.bicep", 1)[1].split("--output none", 1)[0]
    passed = set(re.findall(r"(\w+)=\"\$", eventgrid_step))
    eventgrid_params = declared_params(read(INFRA / "eventgrid.bicep"))
    assert passed <= set(eventgrid_params)
    assert {name for name, required in eventgrid_params.items() if required} == passed


def test_undeliverable_events_are_dead_lettered_not_dropped():
    """Past the retry policy, or on an answer Event Grid never retries (401 for a stale key), an
    event without a dead-letter destination is dropped and its image never gets a result."""
    subscription = strip_comments(read(INFRA / "eventgrid.bicep"))
    assert re.search(r"deadLetterWithResourceIdentity:\s*\{\s*identity:\s*\{\s*type: 'SystemAssigned'", subscription)
    assert "endpointType: 'StorageBlob'" in subscription
    assert "resourceId: systemTopic.properties.source" in subscription
    assert "blobContainerName: deadLetterContainerName" in subscription
    assert param_default(read(INFRA / "eventgrid.bicep"), "deadLetterContainerName") == param_default(
        read(MAIN), "deadLetterContainerName"
    )
    topic = read(MODULES / "systemtopic.bicep")
    assert re.search(r"identity:\s*\{\s*type: 'SystemAssigned'", strip_comments(topic))
    # The topic's identity may write dead letters and nothing else.
    role = "Microsoft.Authorization/roleAssignments@"
    [assignment] = [r for r in resources(topic) if r.type_and_version.startswith(role)]
    assert "scope: storage::blobService::deadLetters" in assignment.body
    assert "principalId: systemTopic.identity.principalId" in assignment.body
    assert "'ba92f5b4-2d11-453d-a403-e96b0029c9fe'" in topic  # Storage Blob Data Contributor
