"""The pure parts of `make deploy-check`: the template it builds for this machine and
the database template it deploys where the emulator knows the resources."""

from __future__ import annotations

import json
from pathlib import Path

from tether.config import PROJECT_ROOT
from tether_dev.local.deploy_check import (
    EMULATOR_UNKNOWN_APP_TYPES,
    EMULATOR_UNKNOWN_TYPES,
    emulated_app_template,
    emulated_database_template,
    host_template,
)
from tether_dev.local.template import load_template, sam_transform


def test_the_host_template_changes_the_architecture_and_the_stage_only(tmp_path: Path) -> None:
    shipped = (PROJECT_ROOT / "template.yaml").read_text()
    copy = host_template(shipped, "x86_64")
    changed = [
        (before, after)
        for before, after in zip(shipped.splitlines(), copy.splitlines(), strict=True)
        if before != after
    ]
    assert len(changed) == 4  # the functions, the layer, the layer's build; the stage
    stage = [pair for pair in changed if "TETHER_STAGE" in pair[0]]
    assert [after.strip() for _, after in stage] == ["TETHER_STAGE: local"]
    assert all(
        before.replace("arm64", "x86_64") == after
        for before, after in changed
        if pair_is_arch(before)
    )
    path = tmp_path / "template.yaml"
    path.write_text(copy)
    resources = sam_transform(load_template(path))["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    assert all(f["Properties"]["Architectures"] == ["x86_64"] for f in functions)
    (layer,) = (r for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]


def pair_is_arch(line: str) -> bool:
    return "arm64" in line


def test_the_emulated_database_template_leaves_out_only_the_proxy() -> None:
    document = load_template(PROJECT_ROOT / "infra" / "database.yaml")
    emulated = emulated_database_template(document)
    removed = document["Resources"].keys() - emulated["Resources"].keys()
    assert removed == {"Proxy", "ProxyTargets"}
    assert {document["Resources"][n]["Type"] for n in removed} == EMULATOR_UNKNOWN_TYPES
    assert emulated["Outputs"]["DbProxyEndpoint"]["Value"] == {
        "Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]
    }
    # the shipped template keeps its proxy, TLS required
    proxy = document["Resources"]["Proxy"]["Properties"]
    assert proxy["RequireTLS"] is True
    assert len(proxy["Auth"]) == 3


def test_the_emulated_app_template_leaves_out_only_what_the_emulator_does_not_know() -> None:
    document = load_template(PROJECT_ROOT / "template.yaml")
    emulated = emulated_app_template(document)
    removed = document["Resources"].keys() - emulated["Resources"].keys()
    assert {document["Resources"][n]["Type"] for n in removed} == EMULATOR_UNKNOWN_APP_TYPES
    assert "WebSocketDeployment" in removed
    # nothing left names what is gone; the stage deploys itself instead
    text = json.dumps(emulated)
    assert not [name for name in removed if f'"{name}"' in text]
    stage = emulated["Resources"]["WebSocketStage"]["Properties"]
    assert stage["AutoDeploy"] is True
    assert "DeploymentId" not in stage
    # everything else is as shipped
    kept = document["Resources"].keys() - removed
    assert all(
        emulated["Resources"][n] == document["Resources"][n] for n in kept if n != "WebSocketStage"
    )
    sam_transform(emulated)  # still a template SAM transforms
