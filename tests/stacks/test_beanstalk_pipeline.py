"""The Beanstalk delivery, asserted on the rendered templates. The shape every pipeline shares is in
test_delivery.py; this file holds what is Beanstalk-specific."""
import json

import pytest

from generator import registry
from generator.stacks.beanstalk_pipeline import BeanstalkPipelineStack
from generator.stacks.delivery import waves
from tests.helpers import as_list, exported_role, load_template, one, resources, statements

#: The pipeline stack of every Beanstalk application of the model.
PIPELINES = [s for s in registry.stacks() if issubclass(s, BeanstalkPipelineStack) and s.part == "pipeline"]


@pytest.fixture(scope="module", params=PIPELINES, ids=lambda s: s.name)
def cls(request):
    return request.param


@pytest.fixture(scope="module")
def template(cls):
    return load_template(cls.delivery.pipeline_stack)


@pytest.fixture(scope="module")
def build(cls):
    return load_template(cls.delivery.build_stack)


@pytest.fixture(scope="module")
def stages(template):
    return {s["Name"]: s for s in one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]["Stages"]}


def test_test_and_scan_run_in_parallel(stages):
    pair = {a["Name"]: a for a in stages["TestAndScan"]["Actions"]}
    assert set(pair) == {"Test", "SecurityScan"}
    assert pair["Test"]["RunOrder"] == pair["SecurityScan"]["RunOrder"]


def test_deploys_use_beanstalk_with_one_scoped_role_per_target(template, stages, cls):
    roles_template = load_template(cls.delivery.roles_stack)
    roles = resources(roles_template, "AWS::IAM::Role")
    used = set()
    for target in waves(cls.model, cls.app):
        deploy = stages["Deploy" + target.label]["Actions"][0]
        assert deploy["ActionTypeId"]["Provider"] == "ElasticBeanstalk"
        assert deploy["Configuration"]["EnvironmentName"] == {
            "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-EnvironmentName" % (target.env, cls.delivery.target_stack)}}
        assert deploy["Configuration"]["ApplicationName"] == {
            "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-app-ApplicationName" % cls.app.name}}
        role_id = exported_role(roles_template, cls.delivery.roles_stack, deploy["RoleArn"])
        used.add(role_id)
        role = roles[role_id]["Properties"]
        assert "ManagedPolicyArns" not in role, "no AdministratorAccess-AWSElasticBeanstalk"
    assert len(used) == len(cls.app.waves)


def test_no_admin_class_managed_policy_anywhere(template, build, cls):
    for t in (template, build, load_template(cls.delivery.roles_stack), load_template(f"{cls.app.name}-env"), load_template(f"{cls.app.name}-app")):
        for role in resources(t, "AWS::IAM::Role").values():
            for arn in role["Properties"].get("ManagedPolicyArns", []):
                assert "Administrator" not in json.dumps(arn) and "FullAccess" not in json.dumps(arn)


def test_build_timeout_defaults_to_15_minutes(build):
    assert build["Parameters"]["BuildTimeoutMinutes"]["Default"] == 15
    assert build["Parameters"]["BuildImage"]["Default"].startswith("aws/codebuild/standard:")


def test_test_results_go_to_a_junit_report_group(build, cls):
    groups = resources(build, "AWS::CodeBuild::ReportGroup")
    names = {g["Properties"]["Name"]["Fn::Sub"] for g in groups.values()}
    assert "${ProjectName}-${EnvironmentName}-%s-test-junit" % cls.delivery.component in names
    assert all(g["Properties"]["Type"] == "TEST" for g in groups.values())


def test_tests_do_not_write_pipeline_artifacts(build):
    policy = resources(build, "AWS::IAM::Policy")["TestProjectRolePolicy"]["Properties"]["PolicyDocument"]
    writes = [s for s in statements(policy) if "s3:PutObject" in as_list(s["Action"])]
    assert all("/build-cache/" in json.dumps(s["Resource"]) for s in writes)


def test_no_project_runs_docker(build):
    for project in resources(build, "AWS::CodeBuild::Project").values():
        assert project["Properties"]["Environment"]["PrivilegedMode"] is False
