"""The shared security gates (stacks/scanners.py): rendered buildspecs, read-only access to every artifact store
granted by the stores' bucket policies (test_store.py), so the scanners' own templates do not grow with the
number of applications."""

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
def test_lists_no_store_or_repository_and_writes_nothing(stack):
    template = load_template(stack)
    grants = [s for p in resources(template, "AWS::IAM::Policy").values()
              for s in statements(p["Properties"]["PolicyDocument"])]
    assert not [s for s in grants if {"s3:GetObject", "s3:PutObject"} & set(as_list(s["Action"]))]
    assert not [s for s in grants if any(a.startswith("ecr:") for a in as_list(s["Action"]))]
    # It decrypts input artifacts under the tools key, through S3 only: one grant.
    [decrypt] = [s for s in grants if "kms:Decrypt" in as_list(s["Action"])]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}
    assert "kms:Encrypt" not in as_list(decrypt["Action"]) and "kms:GenerateDataKey" not in as_list(decrypt["Action"])
    # Its imports are foundation's only: nothing per application.
    assert set(registry.requires(registry.get(stack))) == {"foundation"}
    logical_id = SCANNERS[stack][0]
    [role] = resources(template, "AWS::IAM::Role")
    assert template["Outputs"][logical_id.replace("Project", "RoleArn")]["Value"] == {"Fn::GetAtt": [role, "Arn"]}


def test_scanner_roles_are_not_any_pipelines_roles():
    """Artifact stores admit writes from ``{project}-{env}-<component>-*``: a scanner role must match none."""
    for stack in SCANNERS:
        for role in resources(load_template(stack), "AWS::IAM::Role").values():
            name = role["Properties"]["RoleName"]["Fn::Sub"].split("${EnvironmentName}-", 1)[1]
            assert not any(name.startswith(component + "-") for component in registry.pipeline_components(model.current()))
