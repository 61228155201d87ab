"""The ECS pipelines (blue/green and rolling), asserted on the rendered templates."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.helpers import ROOT, load_template, resources, statements

STAGES = ["Source", "BuildImage", "TestAndScan", "DeployStaging", "ValidateStaging", "Approval",
          "DeployProduction", "ValidateProduction"]
SSM_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}",
                       {"Name": {"Ref": "DockerHubTokenParameter"}}]}
KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}


def imported(env, name):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${%s}-ecs-service-%s" % (env, name)}}


@pytest.fixture(scope="module", params=["ecs-pipeline", "ecs-rolling-pipeline"])
def template(request):
    return load_template(request.param)


@pytest.fixture(scope="module")
def blue_green():
    return load_template("ecs-pipeline")


@pytest.fixture(scope="module")
def rolling():
    return load_template("ecs-rolling-pipeline")


def pipeline(template):
    [props] = [r["Properties"] for r in resources(template, "AWS::CodePipeline::Pipeline").values()]
    return props


def stages(template):
    return {s["Name"]: {a["Name"]: a for a in s["Actions"]} for s in pipeline(template)["Stages"]}


def policies_of(template, role_id):
    return [s for r in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_id} in r["Properties"]["Roles"]
            for s in statements(r["Properties"]["PolicyDocument"])]


def role_of(template, project_id):
    return template["Resources"][project_id]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]


def test_stage_order(template):
    assert [s["Name"] for s in pipeline(template)["Stages"]] == STAGES
    assert [a["Name"] for s in pipeline(template)["Stages"] for a in s["Actions"]
            if s["Name"] == "Approval"] == ["PromoteToProduction"]


def test_unit_test_and_image_scan_run_in_parallel(template):
    pair = stages(template)["TestAndScan"]
    assert set(pair) == {"UnitTest", "ImageScan"}
    assert pair["UnitTest"]["RunOrder"] == pair["ImageScan"]["RunOrder"]
    # The scan reads imageDetail.json from the build output; its buildspec comes from the source.
    scan = pair["ImageScan"]
    assert [a["Name"] for a in scan["InputArtifacts"]] == ["Source", "BuildOutput"]
    assert scan["Configuration"]["PrimarySource"] == "Source"
    assert scan["Configuration"]["ProjectName"] == {"Fn::Sub": pipeline(template)["Name"]["Fn::Sub"] + "-image-scan"}


def test_image_scan_gate_waits_for_ecr_and_fails_at_the_threshold(template):
    project = template["Resources"]["ImageScanProject"]["Properties"]
    assert project["Source"]["BuildSpec"] == "buildspecs/image-scan.yml"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["FAIL_ON_SEVERITY"] == {"Ref": "ImageScanFailOnSeverity"}
    assert template["Parameters"]["ImageScanFailOnSeverity"]["Default"] == "CRITICAL"
    spec = yaml.safe_load((ROOT / "buildspecs" / "image-scan.yml").read_text())
    commands = "\n".join(spec["phases"]["build"]["commands"])
    assert "aws ecr wait image-scan-complete" in commands and "describe-image-scan-findings" in commands
    actions = {a for s in policies_of(template, role_of(template, "ImageScanProject")) for a in s["Action"]}
    assert {"ecr:DescribeImageScanFindings", "ecr:DescribeImages"} <= actions
    assert not {"ecr:PutImage", "ecr:InitiateLayerUpload"} & actions


def test_only_the_image_build_project_is_privileged(template):
    projects = resources(template, "AWS::CodeBuild::Project")
    privileged = sorted(k for k, v in projects.items() if v["Properties"]["Environment"]["PrivilegedMode"])
    assert privileged == ["ImageBuildProject"]
    build = projects["ImageBuildProject"]["Properties"]
    assert build["Source"]["BuildSpec"] == "buildspecs/docker-build.yml"
    assert "LOCAL_DOCKER_LAYER_CACHE" in build["Cache"]["Modes"]
    assert stages(template)["BuildImage"]["Build"]["Configuration"]["ProjectName"] == build["Name"]


def test_image_build_variables_name_both_targets(template):
    variables = {v["Name"]: v for v in
                 template["Resources"]["ImageBuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables["ECS_DEPLOY_TARGETS"]["Value"] == "staging prod"
    assert variables["ECS_DEPLOY_SPEC_STAGING"]["Value"] == imported("StagingEnvironment", "DeploySpec")
    assert variables["ECS_DEPLOY_SPEC_PROD"]["Value"] == imported("ProductionEnvironment", "DeploySpec")
    assert variables["REPOSITORY_URI"]["Value"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-tools-ecr-RepositoryUri"}}


def test_docker_hub_token_only_as_parameter_store_variable(template):
    variables = [v for r in resources(template, "AWS::CodeBuild::Project").values()
                 for v in r["Properties"]["Environment"].get("EnvironmentVariables", [])]
    [token] = [v for v in variables if v["Name"] == "DOCKERHUB_TOKEN"]
    assert token == {"Name": "DOCKERHUB_TOKEN", "Value": {"Ref": "DockerHubTokenParameter"}, "Type": "PARAMETER_STORE"}
    assert [v for v in variables if v["Type"] != "PLAINTEXT"] == [token]
    parameter = template["Parameters"]["DockerHubTokenParameter"]
    assert parameter["Type"] == "String" and parameter["Default"].startswith("/")
    assert "NoEcho" not in parameter  # a parameter name, not a secret


def test_ssm_read_is_scoped_to_the_one_parameter_and_decrypt_via_ssm(template):
    ssm = [(role_id, s) for role_id in resources(template, "AWS::IAM::Role")
           for s in policies_of(template, role_id) if any(a.startswith("ssm:") for a in s["Action"])]
    assert len(ssm) == 1
    role_id, statement = ssm[0]
    assert role_id == role_of(template, "ImageBuildProject")
    assert statement["Action"] == ["ssm:GetParameters"] and statement["Resource"] == [SSM_ARN]
    decrypt = [s for s in policies_of(template, role_id)
               if "kms:Decrypt" in s["Action"] and "ssm" in json.dumps(s.get("Condition", {}))]
    assert len(decrypt) == 1 and decrypt[0]["Resource"] == [KEY]


def test_image_build_role_matches_the_repository_push_policy(template):
    ecr = load_template("ecr")
    policy = ecr["Resources"]["Repository"]["Properties"]["RepositoryPolicyText"]
    [push] = [s for s in statements(policy) if "ecr:PutImage" in s["Action"]]
    role_name = template["Resources"][role_of(template, "ImageBuildProject")]["Properties"]["RoleName"]["Fn::Sub"]
    patterns = [p["Fn::Sub"].rsplit("role/", 1)[1] for p in push["Condition"]["ArnLike"]["aws:PrincipalArn"]]
    assert role_name in patterns


def test_blue_green_deploys_through_codedeploy_to_ecs(blue_green):
    for label, env in (("Staging", "StagingEnvironment"), ("Production", "ProductionEnvironment")):
        folder = "staging" if label == "Staging" else "prod"
        [deploy] = stages(blue_green)["Deploy" + label].values()
        assert deploy["ActionTypeId"]["Provider"] == "CodeDeployToECS"
        assert deploy["Configuration"] == {
            "ApplicationName": imported(env, "CodeDeployApplicationName"),
            "DeploymentGroupName": imported(env, "DeploymentGroupName"),
            "TaskDefinitionTemplateArtifact": "BuildOutput",
            "TaskDefinitionTemplatePath": f"{folder}/taskdef.json",
            "AppSpecTemplateArtifact": "BuildOutput",
            "AppSpecTemplatePath": f"{folder}/appspec.yaml",
            "Image1ArtifactName": "BuildOutput",
            "Image1ContainerName": "IMAGE1_NAME",
        }
        assert [a["Name"] for a in deploy["InputArtifacts"]] == ["BuildOutput"]
    pipeline_role = pipeline(blue_green)["RoleArn"]["Fn::GetAtt"][0]
    actions = {a for s in policies_of(blue_green, pipeline_role) for a in s["Action"]}
    assert {"codedeploy:CreateDeployment", "ecs:RegisterTaskDefinition", "iam:PassRole"} <= actions
    assert "ecs:UpdateService" not in actions
    [pass_role] = [s for s in policies_of(blue_green, pipeline_role) if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_rolling_variant_uses_the_ecs_provider_with_imagedefinitions(rolling):
    for label, env in (("Staging", "StagingEnvironment"), ("Production", "ProductionEnvironment")):
        [deploy] = stages(rolling)["Deploy" + label].values()
        assert deploy["ActionTypeId"]["Provider"] == "ECS"
        assert deploy["Configuration"] == {"ClusterName": imported(env, "ClusterName"),
                                           "ServiceName": imported(env, "ServiceName"),
                                           "FileName": "imagedefinitions.json"}
    pipeline_role = pipeline(rolling)["RoleArn"]["Fn::GetAtt"][0]
    actions = {a for s in policies_of(rolling, pipeline_role) for a in s["Action"]}
    assert "ecs:UpdateService" in actions and "codedeploy:CreateDeployment" not in actions


def test_variants_do_not_collide(blue_green, rolling):
    def names(t):
        return {json.dumps(r["Properties"].get(k)) for r in t["Resources"].values()
                for k in ("Name", "RoleName") if k in r["Properties"]}
    assert not names(blue_green) & names(rolling)


def test_deploy_stages_roll_back_and_smoke_tests_use_the_service_url(template):
    for label, env in (("Staging", "StagingEnvironment"), ("Production", "ProductionEnvironment")):
        stage = next(s for s in pipeline(template)["Stages"] if s["Name"] == "Deploy" + label)
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        smoke = stages(template)["Validate" + label]["SmokeTest"]
        assert imported(env, "ServiceUrl") in smoke["Configuration"]["EnvironmentVariables"]["Fn::Sub"][1].values()


def gate_script():
    spec = yaml.safe_load((ROOT / "buildspecs" / "image-scan.yml").read_text())
    [command] = [c for c in spec["phases"]["build"]["commands"] if c.startswith("python3 - ")]
    return command.split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0]


@pytest.mark.parametrize("threshold, counts, fails", [
    ("CRITICAL", {"HIGH": 4, "LOW": 9}, 0),
    ("CRITICAL", {"CRITICAL": 1}, 1),
    ("HIGH", {"HIGH": 2, "MEDIUM": 3}, 1),
    ("LOW", {"CRITICAL": 1, "LOW": 1}, 2),
    ("HIGH", None, 0),
])
def test_image_scan_gate_script(tmp_path, threshold, counts, fails):
    (tmp_path / "counts.json").write_text(json.dumps(counts))
    report = tmp_path / "scan.xml"
    result = subprocess.run([sys.executable, "-", threshold, str(tmp_path / "counts.json"), str(report)],
                            input=gate_script(), text=True, capture_output=True)
    assert (result.returncode != 0) == bool(fails), result.stderr
    suite = ET.parse(report).getroot()
    assert int(suite.get("failures")) == fails
    assert int(suite.get("tests")) == ["CRITICAL", "HIGH", "MEDIUM", "LOW"].index(threshold) + 1


def test_image_scan_gate_rejects_an_unknown_threshold(tmp_path):
    (tmp_path / "counts.json").write_text("{}")
    result = subprocess.run([sys.executable, "-", "SEVERE", str(tmp_path / "counts.json"), str(tmp_path / "r.xml")],
                            input=gate_script(), text=True, capture_output=True)
    assert result.returncode != 0 and "FAIL_ON_SEVERITY 'SEVERE'" in result.stderr
