"""The Beanstalk pipeline, asserted on the rendered template."""
import json

import pytest

from tests.helpers import as_list, load_template, one, resources, statements

STAGES = ["Source", "Build", "TestAndScan", "DeployStaging", "ValidateStaging", "Approval",
          "DeployProduction", "ValidateProduction"]
KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
PIPELINE_ARN = {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                           "${ProjectName}-${EnvironmentName}-beanstalk"}


@pytest.fixture(scope="module")
def template():
    return load_template("beanstalk-pipeline")


@pytest.fixture(scope="module")
def pipeline(template):
    return one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]


@pytest.fixture(scope="module")
def stages(pipeline):
    return {s["Name"]: s for s in pipeline["Stages"]}


def actions(stage):
    return {a["Name"]: a for a in stage["Actions"]}


def test_v2_pipeline_with_artifact_store_under_the_foundation_key(pipeline):
    assert pipeline["PipelineType"] == "V2"
    store = pipeline["ArtifactStore"]
    assert store["Type"] == "S3" and store["EncryptionKey"] == {"Id": KEY, "Type": "KMS"}
    assert store["Location"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-artifacts-ArtifactBucketName"}}


def test_stage_order(pipeline):
    assert [s["Name"] for s in pipeline["Stages"]] == STAGES
    flow = [(s["Name"], sorted(a["Name"] for a in s["Actions"])) for s in pipeline["Stages"]]
    assert flow[2] == ("TestAndScan", ["SecurityScan", "Test"])


def test_test_and_scan_run_in_parallel(stages):
    pair = actions(stages["TestAndScan"])
    assert set(pair) == {"Test", "SecurityScan"}
    assert pair["Test"]["RunOrder"] == pair["SecurityScan"]["RunOrder"]


def test_approval_is_the_only_path_to_production(pipeline, stages):
    names = [s["Name"] for s in pipeline["Stages"]]
    approval = names.index("Approval")
    [gate] = stages["Approval"]["Actions"]
    assert gate["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    assert approval == names.index("DeployProduction") - 1
    production_env = "${ProjectName}-${ProductionEnvironment}-beanstalk-env-EnvironmentName"
    for index, stage in enumerate(pipeline["Stages"]):
        for action in stage["Actions"]:
            text = json.dumps(action)
            if "ProductionEnvironment" in text and action is not gate:
                assert index > approval, f"{stage['Name']}/{action['Name']} reaches production before approval"
            if action["ActionTypeId"]["Category"] == "Deploy":
                target = action["Configuration"]["EnvironmentName"]["Fn::ImportValue"]["Fn::Sub"]
                assert (target == production_env) == (index > approval)
    assert "DisableInboundStageTransitions" not in pipeline


def test_approval_notifies_links_and_explains(stages):
    [gate] = stages["Approval"]["Actions"]
    config = gate["Configuration"]
    assert config["NotificationArn"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-artifacts-ApprovalsTopicArn"}}
    assert "EndpointHost" in json.dumps(config["ExternalEntityLink"])
    assert "${StagingEnvironment}" in json.dumps(config["ExternalEntityLink"])
    assert "approve" in config["CustomData"]["Fn::Sub"][0]


def test_s3_source_without_polling_started_by_eventbridge(template, stages):
    [source] = stages["Source"]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["PollForSourceChanges"] is False
    assert source["Configuration"]["S3ObjectKey"] == {"Ref": "SourceObjectKey"}
    rule = resources(template, "AWS::Events::Rule")["PipelineSourceRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"Ref": "SourceObjectKey"}]
    assert pattern["detail"]["bucket"]["name"] == [source["Configuration"]["S3Bucket"]]
    [target] = rule["Targets"]
    assert target["Arn"] == PIPELINE_ARN
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    policies = [p for p in resources(template, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    grants = [s for p in policies for s in statements(p["Properties"]["PolicyDocument"])]
    assert grants == [{"Effect": "Allow", "Action": ["codepipeline:StartPipelineExecution"], "Resource": [PIPELINE_ARN]}]
    trust = resources(template, "AWS::IAM::Role")[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}


def test_deploy_stages_roll_back_on_failure_and_use_beanstalk(stages):
    for name in ("DeployStaging", "DeployProduction"):
        assert stages[name]["OnFailure"] == {"Result": "ROLLBACK"}
        [deploy] = stages[name]["Actions"]
        assert deploy["ActionTypeId"]["Provider"] == "ElasticBeanstalk"
        assert deploy["InputArtifacts"] == [{"Name": "BuildOutput"}]


def test_same_artifact_is_promoted(stages):
    [build] = stages["Build"]["Actions"]
    assert build["OutputArtifacts"] == [{"Name": "BuildOutput"}]
    deployed = [a["InputArtifacts"] for s in ("DeployStaging", "DeployProduction") for a in stages[s]["Actions"]]
    assert deployed == [[{"Name": "BuildOutput"}]] * 2


def test_validation_smoke_tests_hit_each_targets_health_url(stages):
    for label in ("Staging", "Production"):
        [smoke] = stages["Validate" + label]["Actions"]
        variables = smoke["Configuration"]["EnvironmentVariables"]["Fn::Sub"]
        assert [v["name"] for v in json.loads(variables[0])] == ["TARGET_URL", "HEALTH_PATH"]
        host = variables[1]["Url"]["Fn::Sub"][1]["Host"]["Fn::ImportValue"]["Fn::Sub"]
        assert host == "${ProjectName}-${%sEnvironment}-beanstalk-env-EndpointHost" % label
        assert variables[1]["Path"] == {"Ref": "HealthCheckPath"}


def test_every_codebuild_project_is_hardened(template):
    projects = resources(template, "AWS::CodeBuild::Project")
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(projects) == 4
    for logical_id, project in projects.items():
        props = project["Properties"]
        assert props["TimeoutInMinutes"] == {"Ref": "BuildTimeoutMinutes"}
        assert props["QueuedTimeoutInMinutes"] == {"Ref": "BuildQueuedTimeoutMinutes"}
        assert props["EncryptionKey"] == KEY
        assert props["Source"]["BuildSpec"].startswith("buildspecs/")
        assert props["Environment"]["Image"] == {"Ref": "BuildImage"}
        assert props["Environment"]["ComputeType"] == {"Ref": "BuildComputeType"}
        assert props["Environment"]["PrivilegedMode"] is False, "no project here runs Docker"
        assert props["Cache"]["Type"] in ("S3", "LOCAL")
        logs = props["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED"
        group = groups[logs["GroupName"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "BuildLogRetentionDays"}
        assert group["Properties"]["KmsKeyId"] == KEY
        role = props["ServiceRole"]["Fn::GetAtt"][0]
        assert sum(props["ServiceRole"] == p["Properties"]["ServiceRole"] for p in projects.values()) == 1, \
            f"{logical_id}: role {role} shared"


def test_build_timeout_defaults_to_15_minutes(template):
    assert template["Parameters"]["BuildTimeoutMinutes"]["Default"] == 15
    assert template["Parameters"]["BuildImage"]["Default"].startswith("aws/codebuild/standard:")


def test_test_results_go_to_a_junit_report_group(template):
    groups = resources(template, "AWS::CodeBuild::ReportGroup")
    names = {g["Properties"]["Name"]["Fn::Sub"] for g in groups.values()}
    assert "${ProjectName}-${EnvironmentName}-beanstalk-test-junit" in names
    assert all(g["Properties"]["Type"] == "TEST" for g in groups.values())


def test_pipeline_role_may_only_start_its_own_projects(template):
    policy = resources(template, "AWS::IAM::Policy")["PipelineRolePolicy"]
    grants = statements(policy["Properties"]["PolicyDocument"])
    [codebuild] = [s for s in grants if "codebuild:StartBuild" in s["Action"]]
    projects = {p["Properties"]["Name"]["Fn::Sub"] for p in resources(template, "AWS::CodeBuild::Project").values()}
    arns = {r["Fn::Sub"].split("project/")[1] for r in codebuild["Resource"]}
    assert arns == projects
    [assume] = [s for s in grants if s["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"] == [{"Fn::GetAtt": ["DeployRole", "Arn"]}]


def test_deploy_role_is_assumable_by_the_pipeline_role_only(template):
    role = resources(template, "AWS::IAM::Role")["DeployRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    name = resources(template, "AWS::IAM::Role")["PipelineRole"]["Properties"]["RoleName"]
    assert trust["Principal"] == {"AWS": {"Fn::Sub": [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}", {"Name": name}]}}
    assert "Condition" not in trust
    assert resources(template, "AWS::IAM::Role")["DeployRole"]["DependsOn"] == ["PipelineRole"]


def test_notifications_for_failures_and_approvals(template):
    rules = resources(template, "AWS::Events::Rule")
    failed = rules["PipelineFailedRule"]["Properties"]
    assert failed["EventPattern"]["detail"] == {"state": ["FAILED"]}
    assert set(failed["EventPattern"]["detail-type"]) == {
        "CodePipeline Pipeline Execution State Change", "CodePipeline Stage Execution State Change",
        "CodePipeline Action Execution State Change"}
    approval = rules["PipelineApprovalRule"]["Properties"]["EventPattern"]
    assert approval["detail"] == {"state": ["STARTED"], "type": {"category": ["Approval"]}}
    for rule in (failed, rules["PipelineApprovalRule"]["Properties"]):
        assert rule["EventPattern"]["resources"] == [PIPELINE_ARN]
        [target] = rule["Targets"]
        assert target["Arn"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-NotificationsTopicArn"}}
        transformer = target["InputTransformer"]
        assert {"pipeline", "stage", "execution"} <= set(transformer["InputPathsMap"])
        assert transformer["InputPathsMap"]["execution"] == "$.detail.execution-id"
        assert "console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>" in \
            transformer["InputTemplate"]
        json.loads(transformer["InputTemplate"].replace("<", "").replace(">", ""))  # a JSON string for SNS


def test_targets_are_parameters_following_the_naming_convention(template):
    params = template["Parameters"]
    assert params["StagingEnvironment"]["Default"] == "staging"
    assert params["ProductionEnvironment"]["Default"] == "prod"
    text = json.dumps(template["Resources"])
    for literal in ('"staging', '"prod', "-staging-", "-prod-"):
        assert literal not in text


def test_scan_and_test_do_not_write_pipeline_artifacts(template, stages):
    for name in ("Test", "SecurityScan"):
        assert "OutputArtifacts" not in actions(stages["TestAndScan"])[name]
    scan_policy = resources(template, "AWS::IAM::Policy")["ScanProjectRolePolicy"]["Properties"]["PolicyDocument"]
    writes = [s for s in statements(scan_policy) if "s3:PutObject" in as_list(s["Action"])]
    assert all("/build-cache/" in json.dumps(s["Resource"]) for s in writes)


def test_service_roles_trust_only_their_own_resource(template):
    roles = resources(template, "AWS::IAM::Role")
    [pipeline_trust] = roles["PipelineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert pipeline_trust["Principal"] == {"Service": "codepipeline.amazonaws.com"}
    assert pipeline_trust["Condition"]["ArnLike"] == {"aws:SourceArn": PIPELINE_ARN}
    for logical_id, project in resources(template, "AWS::CodeBuild::Project").items():
        role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
        [trust] = roles[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        name = project["Properties"]["Name"]["Fn::Sub"]
        assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":project/" + name), logical_id
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
