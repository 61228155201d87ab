"""The ECS deliveries (CodeDeploy blue/green and ECS-native), asserted on the rendered templates.

The shape every pipeline shares is in test_delivery.py; this file holds what is ECS-specific:
the image build, the image scan gate, and which deploy action targets which service kind."""
import json

import pytest
from generator import registry
from generator.components import codebuild
from generator.stacks.delivery import waves
from generator.stacks.ecs_pipeline import EcsNativePipelineStack, EcsPipelineStack, artifact_dir
from tests.helpers import exported_role, load_template, resources, statements

SSM_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}",
                       {"Name": {"Ref": "DockerHubTokenParameter"}}]}
KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
#: The pipeline stack of every container application of the model, by kind.
PIPELINES = [s for s in registry.stacks() if issubclass(s, EcsPipelineStack) and s.part == "pipeline"]
CODEDEPLOY = [s for s in PIPELINES if s.app.kind == "ecs-bluegreen"]
NATIVE = [s for s in PIPELINES if s.app.kind == "ecs-rolling"]


def imported(env, name, stack):
    """An export of ``stack`` in the wave ``env``, as the pipeline (tools) imports it."""
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack, name)}}


def test_both_kinds_are_in_the_sample():
    assert CODEDEPLOY and NATIVE
    assert not [s for s in CODEDEPLOY if issubclass(s, EcsNativePipelineStack)]
    assert all(issubclass(s, EcsNativePipelineStack) for s in NATIVE)


@pytest.fixture(scope="module", params=PIPELINES, ids=lambda s: s.name)
def cls(request):
    return request.param


@pytest.fixture(scope="module")
def delivery(cls):
    return cls.delivery


@pytest.fixture(scope="module")
def build(delivery):
    return load_template(delivery.build_stack)


@pytest.fixture(scope="module")
def template(delivery):
    return load_template(delivery.pipeline_stack)


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


def buildspec_name(project):
    return project["Properties"]["Source"]["BuildSpec"].splitlines()[0].split("buildspecs/")[1].split(",")[0]


def test_tests_and_both_scans_run_in_parallel(template):
    checks = stages(template)["TestAndScan"]
    assert set(checks) == {"UnitTest", "SecurityScan", "ImageScan"}
    assert len({a["RunOrder"] for a in checks.values()}) == 1
    # The image scan reads imageDetail.json from the build output.
    scan = checks["ImageScan"]
    assert [a["Name"] for a in scan["InputArtifacts"]] == ["Source", "BuildOutput"]
    assert scan["Configuration"]["PrimarySource"] == "Source"
    assert scan["Configuration"]["ProjectName"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-image-scanner-ImageScanProjectName"}}


def test_image_scan_gate_fails_at_the_threshold(template, cls):
    scanner = load_template("image-scanner")
    project = scanner["Resources"]["ImageScanProject"]
    assert buildspec_name(project) == "image-scan.yml"
    # the buildspec file as templates carry it (its inlined gate script compacted: tests/test_buildspecs.py)
    assert project["Properties"]["Source"]["BuildSpec"] == codebuild.buildspec_text("image-scan.yml")
    scan = stages(template)["TestAndScan"]["ImageScan"]["Configuration"]["EnvironmentVariables"]["Fn::Sub"]
    variables = {v["name"]: v["value"] for v in json.loads(scan[0])}
    assert variables == {"REPOSITORY_NAME": "${Repository}", "FAIL_ON_SEVERITY": "${Threshold}"}
    assert scan[1]["Threshold"] == {"Ref": "ImageScanFailOnSeverity"}
    assert template["Parameters"]["ImageScanFailOnSeverity"]["Default"] == "HIGH"
    actions = {a for s in policies_of(scanner, role_of(scanner, "ImageScanProject")) for a in s["Action"]}
    assert "inspector2:ListFindings" in actions
    assert not {"ecr:PutImage", "ecr:InitiateLayerUpload", "s3:PutObject"} & actions
    # The scan findings of this application's images: granted by its repository's policy (test_ecr.py).
    repository = load_template(f"{cls.app.name}-ecr")["Resources"]["Repository"]["Properties"]["RepositoryPolicyText"]
    [gate] = [s for s in statements(repository) if s.get("Sid") == "AllowImageScanGateToReadScanFindings"]
    assert {"ecr:DescribeImageScanFindings", "ecr:DescribeImages"} <= set(gate["Action"])


def test_only_the_image_build_project_is_privileged(build, template):
    projects = resources(build, "AWS::CodeBuild::Project")
    privileged = sorted(k for k, v in projects.items() if v["Properties"]["Environment"]["PrivilegedMode"])
    assert privileged == ["ImageBuildProject"]
    assert buildspec_name(projects["ImageBuildProject"]) == "docker-build.yml"
    assert "LOCAL_DOCKER_LAYER_CACHE" in projects["ImageBuildProject"]["Properties"]["Cache"]["Modes"]
    name = stages(template)["BuildImage"]["Build"]["Configuration"]["ProjectName"]
    assert name["Fn::ImportValue"]["Fn::Sub"].endswith("-ImageBuildProjectName")


def test_image_build_variables_name_every_wave(build, delivery, cls):
    variables = {v["Name"]: v for v in
                 build["Resources"]["ImageBuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables["ECS_DEPLOY_TARGETS"]["Value"] == " ".join(cls.app.waves)
    specs = {k for k in variables if k.startswith("ECS_DEPLOY_SPEC_")}
    assert specs == {"ECS_DEPLOY_SPEC_" + env.upper().replace("-", "_") for env in cls.app.waves}
    for env in cls.app.waves:
        assert variables["ECS_DEPLOY_SPEC_" + env.upper().replace("-", "_")]["Value"] == imported(
            env, "DeploySpec", delivery.target_stack)
    assert variables["REPOSITORY_URI"]["Value"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-ecr-RepositoryUri" % cls.app.name}}


def test_docker_hub_token_only_as_parameter_store_variable(build):
    variables = [v for r in resources(build, "AWS::CodeBuild::Project").values()
                 for v in r["Properties"]["Environment"].get("EnvironmentVariables", [])]
    [token] = [v for v in variables if v["Name"] == "DOCKERHUB_TOKEN"]
    assert token == {"Name": "DOCKERHUB_TOKEN", "Value": {"Ref": "DockerHubTokenParameter"}, "Type": "PARAMETER_STORE"}
    assert [v for v in variables if v["Type"] != "PLAINTEXT"] == [token]
    parameter = build["Parameters"]["DockerHubTokenParameter"]
    assert parameter["Type"] == "String" and parameter["Default"].startswith("/")
    assert "NoEcho" not in parameter  # a parameter name, not a secret


def test_ssm_read_is_scoped_to_the_one_parameter_and_decrypt_via_ssm(build):
    ssm = [(role_id, s) for role_id in resources(build, "AWS::IAM::Role")
           for s in policies_of(build, role_id) if any(a.startswith("ssm:") for a in s["Action"])]
    assert len(ssm) == 1
    role_id, statement = ssm[0]
    assert role_id == role_of(build, "ImageBuildProject")
    assert statement["Action"] == ["ssm:GetParameters"] and statement["Resource"] == [SSM_ARN]
    decrypt = [s for s in policies_of(build, role_id)
               if "kms:Decrypt" in s["Action"] and "ssm" in json.dumps(s.get("Condition", {}))]
    assert len(decrypt) == 1 and decrypt[0]["Resource"] == [KEY]


def test_image_build_role_is_one_the_repository_lets_push(build, cls):
    ecr = load_template(f"{cls.app.name}-ecr")
    policy = json.dumps(ecr["Resources"]["Repository"]["Properties"]["RepositoryPolicyText"])
    role_name = build["Resources"][role_of(build, "ImageBuildProject")]["Properties"]["RoleName"]["Fn::Sub"]
    assert role_name in policy


@pytest.mark.parametrize("codedeploy", CODEDEPLOY, ids=lambda s: s.name)
def test_codedeploy_variant_deploys_through_codedeploy_to_ecs(codedeploy):
    template = load_template(codedeploy.delivery.pipeline_stack)
    roles = load_template(codedeploy.delivery.roles_stack)
    service = codedeploy.delivery.target_stack
    for target in waves(codedeploy.model, codedeploy.app):
        env, folder = target.env, artifact_dir(target)
        deploy = stages(template)["Deploy" + target.label]["Deploy"]
        assert deploy["ActionTypeId"]["Provider"] == "CodeDeployToECS"
        assert deploy["Configuration"] == {
            "ApplicationName": imported(env, "CodeDeployApplicationName", service),
            "DeploymentGroupName": imported(env, "DeploymentGroupName", service),
            "TaskDefinitionTemplateArtifact": "BuildOutput",
            "TaskDefinitionTemplatePath": f"{folder}/taskdef.json",
            "AppSpecTemplateArtifact": "BuildOutput",
            "AppSpecTemplatePath": f"{folder}/appspec.yaml",
            "Image1ArtifactName": "BuildOutput",
            "Image1ContainerName": "IMAGE1_NAME",
        }
        role = exported_role(roles, codedeploy.delivery.roles_stack, deploy["RoleArn"])
        actions = {a for s in policies_of(roles, role) for a in s["Action"]}
        assert {"codedeploy:CreateDeployment", "ecs:RegisterTaskDefinition", "iam:PassRole"} <= actions
        assert "ecs:UpdateService" not in actions
        [pass_role] = [s for s in policies_of(roles, role) if s["Action"] == ["iam:PassRole"]]
        assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    pipeline_role = exported_role(roles, codedeploy.delivery.roles_stack, pipeline(template)["RoleArn"])
    assert not {a for s in policies_of(roles, pipeline_role) for a in s["Action"]
                if a.startswith(("codedeploy:", "ecs:", "iam:"))}, "deploy permissions belong to the deploy roles"


@pytest.mark.parametrize("native", NATIVE, ids=lambda s: s.name)
def test_native_variant_uses_the_ecs_action_on_ecs_controlled_services(native):
    template = load_template(native.delivery.pipeline_stack)
    roles = load_template(native.delivery.roles_stack)
    service = native.delivery.target_stack
    for target in waves(native.model, native.app):
        env = target.env
        deploy = stages(template)["Deploy" + target.label]["Deploy"]
        assert deploy["ActionTypeId"]["Provider"] == "ECS"
        assert deploy["Configuration"] == {"ClusterName": imported(env, "ClusterName", service),
                                           "ServiceName": imported(env, "ServiceName", service),
                                           "FileName": "imagedefinitions.json"}
        role = exported_role(roles, native.delivery.roles_stack, deploy["RoleArn"])
        actions = {a for s in policies_of(roles, role) for a in s["Action"]}
        assert "ecs:UpdateService" in actions and "codedeploy:CreateDeployment" not in actions


def test_each_pipeline_targets_only_services_whose_controller_accepts_its_action():
    """CodePipeline's ECS action calls UpdateService, which ECS refuses for CODE_DEPLOY services; CodeDeployToECS
    needs a CODE_DEPLOY service. The target stack of each variant must use the matching controller."""
    accepts = {"ECS": "ECS", "CodeDeployToECS": "CODE_DEPLOY"}
    for delivery in [p.delivery for p in PIPELINES]:
        pipeline_template = load_template(delivery.pipeline_stack)
        providers = {a["ActionTypeId"]["Provider"] for s in pipeline(pipeline_template)["Stages"]
                     for a in s["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"}
        [provider] = providers
        services = resources(load_template(delivery.target_stack), "AWS::ECS::Service").values()
        controllers = {s["Properties"].get("DeploymentController", {}).get("Type", "ECS") for s in services}
        assert controllers == {accepts[provider]}, (delivery.pipeline_stack, providers, controllers)


def test_variants_do_not_collide():
    def names(t):
        return {json.dumps(r["Properties"].get(k)) for r in t["Resources"].values()
                for k in ("Name", "RoleName") if k in r["Properties"]}
    def all_names(cls):
        d = cls.delivery
        stacks = [d.build_stack, d.store_stack, d.roles_stack, d.pipeline_stack]
        stacks += [d.validation_stack_of(t) for t in waves(cls.model, cls.app)]
        return set().union(*(names(load_template(s)) for s in stacks))
    for i, first in enumerate(PIPELINES):
        for second in PIPELINES[i + 1:]:
            assert not all_names(first) & all_names(second), (first.name, second.name)
