"""The run's pipeline part, offline: the source zip, the upload to the bucket an output names under
the pipeline's SourceObjectKey, the wait, and the health check of the wave a deploy stage deployed."""
from __future__ import annotations

import io
import zipfile

import pytest
from botocore.stub import ANY, Stubber

from generator import cli
from generator.integ import cli as integ_cli, health, report

from ..deploy.conftest import Project, naming_parameters
from .conftest import offline_client, stubbed_clients
from .test_pipeline_wait import EXEC, NAME, STAGES, Poll, stage_state, structure


def template(resources, parameters=None, outputs=None):
    params = naming_parameters()
    params.update(parameters or {})
    return {"Parameters": params, "Resources": resources, "Outputs": outputs or {}}


@pytest.fixture
def integ(tmp_path, monkeypatch, capsys):
    project = Project(tmp_path / "project", monkeypatch, capsys, "http://127.0.0.1:9")
    project.add_stack("store", ("tools",))
    project.add_stack("web", ("staging", "prod"))
    project.add_stack("pipe", ("tools",), ["store", "staging:web", "prod:web"])
    project.template("store", template({"Source": {"Type": "AWS::S3::Bucket"}}))
    project.template("web", template({"Env": {"Type": "AWS::ElasticBeanstalk::Environment"}}))
    project.template("pipe", template({"Pipeline": {"Type": "AWS::CodePipeline::Pipeline"}},
                                      {"SourceObjectKey": {"Type": "String", "Default": "app/source.zip"}}))
    project.params("tools", "store")
    project.params("staging", "web")
    project.params("prod", "web")
    project.params("tools", "pipe")
    project.environment("prod", Protected=True)
    for rel, text in (("examples/sample-app/application.py", "print('hi')\n"),
                      ("examples/sample-app/__pycache__/x.pyc", "junk"), ("buildspecs/build.yml", "version: 0.2\n")):
        path = project.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    args = cli.build_parser().parse_args(["integ", "--poll-seconds", "0", "--health-timeout", "0"])
    run = integ_cli.Integ(args, None, io.StringIO(), True)
    run.region = "eu-west-1"
    assert run.prepare() == []
    assert [d.key for d in run.deployments] == ["tools:store", "staging:web", "prod:web", "tools:pipe"]
    run.outputs = {("tools", "store"): {"SourceBucketName": "demo-tools-source"},
                   ("staging", "web"): {"EnvironmentName": "env-staging"},
                   ("prod", "web"): {"EnvironmentName": "env-prod"},
                   ("tools", "pipe"): {"PipelineName": NAME}}
    run.targets = [health.classify(f"{env}:web", f"demo-{env}-web", run.outputs[(env, "web")],
                                   {health.BEANSTALK_ENVIRONMENT}) for env in ("staging", "prod")]
    return project, run


def test_upload_wait_and_health_of_each_wave(integ):
    project, run = integ
    s3, cp, eb = offline_client("s3"), offline_client("codepipeline"), offline_client("elasticbeanstalk")
    with Stubber(s3) as s, Stubber(cp) as c, Stubber(eb) as e:
        s.add_response("get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:key"}}]}},
            {"Bucket": "demo-tools-source"})
        s.add_response("put_object", {"VersionId": "v7"}, {
            "Bucket": "demo-tools-source", "Key": "app/source.zip", "Body": ANY,
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:key"})
        c.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
            {"pipelineExecutionId": EXEC, "status": "InProgress", "sourceRevisions": [
                {"actionName": "Source", "revisionId": "v7"}]}]}, {"pipelineName": NAME, "maxResults": 20})
        c.add_response("get_pipeline", structure(), {"name": NAME})
        poll = Poll(c)
        poll("InProgress", [stage_state(x, "Succeeded") for x in STAGES[:3]],
             durations=[("Source", 2), ("Build", 80), ("DeployStaging", 100)])
        for env in ("staging", "prod"):
            if env == "prod":
                poll("Succeeded", [stage_state(x, "Succeeded") for x in STAGES],
                     durations=[(x, 5) for x in STAGES])
            e.add_response("describe_environments", {"Environments": [
                {"EnvironmentName": f"env-{env}", "Status": "Ready", "Health": "Green"}]},
                {"EnvironmentNames": [f"env-{env}"], "IncludeDeleted": False})
            e.add_response("describe_environment_resources", {"EnvironmentResources": {}},
                           {"EnvironmentName": f"env-{env}"})
        run.clients = stubbed_clients(("s3", s3), ("codepipeline", cp), ("elasticbeanstalk", eb))
        assert run.run_pipelines() is True
        for stubber in (s, c, e):
            stubber.assert_no_pending_responses()
    names = [step.name for step in run.report.steps]
    assert names[:2] == ["build source zip", "upload source tools:pipe"]
    # each wave's health right after its deploy stage, named by pipeline and stage
    assert f"health {NAME}/DeployStaging staging:web" in names
    assert f"health {NAME}/DeployProduction prod:web" in names
    assert names.index(f"health {NAME}/DeployStaging staging:web") < names.index(f"health {NAME}/DeployProduction prod:web")
    assert names[-1] == f"pipeline {NAME}" and run.report.steps[-1].status == report.PASSED
    assert f"  {NAME}/Build" in names and all(st.status == report.PASSED for st in run.report.steps)
    with zipfile.ZipFile(project.root / "build" / "integ" / "source.zip") as z:
        assert sorted(z.namelist()) == ["application.py", "buildspecs/build.yml"]


def test_a_failed_deploy_stage_fails_the_run_without_a_health_check(integ):
    project, run = integ
    s3, cp, eb = offline_client("s3"), offline_client("codepipeline"), offline_client("elasticbeanstalk")
    with Stubber(s3) as s, Stubber(cp) as c, Stubber(eb):
        s.add_client_error("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError", "none")
        s.add_response("put_object", {"VersionId": "v8"}, {"Bucket": "demo-tools-source", "Key": "app/source.zip",
                                                          "Body": ANY})
        c.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
            {"pipelineExecutionId": EXEC, "status": "InProgress", "sourceRevisions": [
                {"actionName": "Source", "revisionId": "v8"}]}]}, {"pipelineName": NAME, "maxResults": 20})
        c.add_response("get_pipeline", structure(), {"name": NAME})
        Poll(c)("InProgress", [stage_state(x, "Succeeded") for x in STAGES[:2]]
                + [stage_state("DeployStaging", "Failed", error="Beanstalk deployment failed")],
                durations=[("Source", 1), ("Build", 2), ("DeployStaging", 3)])
        run.clients = stubbed_clients(("s3", s3), ("codepipeline", cp), ("elasticbeanstalk", eb))
        assert run.run_pipelines() is False
    last = run.report.steps[-1]
    assert last.status == report.FAILED and "DeployStaging failed" in last.detail
    assert not any(step.name.startswith("health") for step in run.report.steps)   # no health after a failed deploy
