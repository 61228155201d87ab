"""The shared security gates (stacks/scanners.py): rendered buildspecs, read-only access to every artifact store."""
import json

import pytest

from generator import model, registry
from tests.helpers import as_list, load_template, resources, statements

SCANNERS = {"source-scanner": ("SecurityScanProject", "security-scan.yml", "sast"),
            "image-scanner": ("ImageScanProject", "image-scan.yml", "scan")}


@pytest.mark.parametrize("stack", sorted(SCANNERS))
def test_one_gate_project_with_its_buildspec_in_the_template(stack):
    template = load_template(stack)
    logical_id, buildspec, report = SCANNERS[stack]
    [(found, project)] = resources(template, "AWS::CodeBuild::Project").items()
    assert found == logical_id
    spec = project["Properties"]["Source"]["BuildSpec"]
    assert spec.startswith(f"# buildspecs/{buildspec}") and "\nphases:" in spec
    assert project["Properties"]["Environment"]["PrivilegedMode"] is False
    groups = {g["Properties"]["Name"]["Fn::Sub"] for g in resources(template, "AWS::CodeBuild::ReportGroup").values()}
    assert any(name.endswith("-" + report) for name in groups)
    assert template["Outputs"][f"{logical_id}Name"]["Export"]["Name"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%sName" % (stack, logical_id)}


@pytest.mark.parametrize("stack", sorted(SCANNERS))
def test_reads_every_pipelines_store_and_writes_none(stack):
    template = load_template(stack)
    grants = [s for p in resources(template, "AWS::IAM::Policy").values()
              for s in statements(p["Properties"]["PolicyDocument"])]
    reads = json.dumps([s["Resource"] for s in grants if "s3:GetObject" in as_list(s["Action"])])
    for component in registry.pipeline_components(model.current()):
        prefix = "".join(p.capitalize() for p in component.split("-"))
        assert f"artifacts-{prefix}ArtifactBucketArn" in reads, component
    assert not [s for s in grants if "s3:PutObject" in as_list(s["Action"])], "a shared scanner never writes artifacts"


def test_scanner_roles_are_not_any_pipelines_roles():
    """Artifact stores admit writes from ``{project}-{env}-<component>-*``: a scanner role must match none."""
    for stack in SCANNERS:
        for role in resources(load_template(stack), "AWS::IAM::Role").values():
            name = role["Properties"]["RoleName"]["Fn::Sub"].split("${EnvironmentName}-", 1)[1]
            assert not any(name.startswith(component + "-") for component in registry.pipeline_components(model.current()))
