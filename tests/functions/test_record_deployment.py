"""The deployment recorder (generator/functions/record_deployment.py): health check with bounded retries,
the version each kind's target runs, the history record (moto's DynamoDB, ECS and Lambda, in-process) and
the job result reported to CodePipeline (botocore Stubber: moto cannot answer CodePipeline job calls; the
Beanstalk environment's version label and CodeDeploy task sets are stubbed too)."""
import ast
import io
import json
import socket
import tokenize
import urllib.error
import zipfile

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from generator.functions import INLINE_ZIP_LIMIT, record_deployment as fn, source, zipped_size
from generator.stacks import recorder as recorder_stack

TABLE = "acme-ops-deployments"
URL_ENV = {"TABLE": TABLE, "APPLICATION": "billing", "ENVIRONMENT": "live", "TTL_DAYS": "400",
           "TARGET_URL": "https://billing.example.test/", "HEALTH_PATH": "/health", "ATTEMPTS": "3", "TIMEOUT": "2",
           "TARGET_KIND": "beanstalk", "BEANSTALK_ENVIRONMENT": "acme-live-billing"}
SOURCE_REVISION = "3HL4kqtJlcpXroDTDmJ"
EVENT = {"CodePipeline.job": {"id": "11111111-2222-3333-4444-555555555555", "data": {
    "pipelineContext": {"pipelineName": "acme-ops-billing", "pipelineExecutionId": "exec-1"},
    "inputArtifacts": [{"name": "Source", "revision": SOURCE_REVISION}]}}}
DIGEST = "sha256:" + "ab" * 32
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing"


class Answer:
    def __init__(self, status):
        self.status = status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def urlopen_answering(*outcomes):
    """A urlopen that answers each call with the next outcome (a status or an exception), recording the calls."""
    calls = []

    def urlopen(url, timeout):
        calls.append((url, timeout))
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return Answer(outcome)

    urlopen.calls = calls
    return urlopen


class Aws:
    """The function's client factory: moto's clients, and stubbed ones where a test adds them."""

    def __init__(self):
        self.clients = {}
        self.stubs = {}

    def __call__(self, service):
        if service not in self.clients:
            self.clients[service] = boto3.client(service)
        return self.clients[service]

    def stub(self, service) -> Stubber:
        if service not in self.stubs:
            self.stubs[service] = Stubber(self(service))
            self.stubs[service].activate()
        return self.stubs[service]


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        factory = Aws()
        factory("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "Target", "AttributeType": "S"},
                                  {"AttributeName": "DeployedAt", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "Target", "KeyType": "HASH"},
                       {"AttributeName": "DeployedAt", "KeyType": "RANGE"}])
        yield factory
        for stub in factory.stubs.values():
            stub.assert_no_pending_responses()


def beanstalk_runs(aws, label, env=URL_ENV):
    aws.stub("elasticbeanstalk").add_response(
        "describe_environments", {"Environments": [{"EnvironmentName": env["BEANSTALK_ENVIRONMENT"],
                                                    "VersionLabel": label}]},
        {"EnvironmentNames": [env["BEANSTALK_ENVIRONMENT"]]})


def run(aws, env, expect, message_part, urlopen=None):
    job = EVENT["CodePipeline.job"]["id"]
    if expect == "success":
        aws.stub("codepipeline").add_response("put_job_success_result", {},
                                              {"jobId": job, "executionDetails": {"summary": ANY}})
    else:
        aws.stub("codepipeline").add_response("put_job_failure_result", {},
                                              {"jobId": job, "failureDetails": {"type": "JobFailed", "message": ANY}})
    sleeps = []
    summary = fn.handler(EVENT, None, sleep=sleeps.append, urlopen=urlopen or urlopen_answering(200), env=env, aws=aws)
    aws.stub("codepipeline").assert_no_pending_responses()
    assert message_part in summary
    return summary, sleeps


def item(aws, env):
    [found] = aws("dynamodb").query(
        TableName=TABLE, KeyConditionExpression="Target = :t",
        ExpressionAttributeValues={":t": {"S": f"{env['APPLICATION']}#{env['ENVIRONMENT']}"}})["Items"]
    return {k: next(iter(v.values())) for k, v in found.items()}


# -- health check and record (every kind with a URL) ---------------------------------------------------------
def test_healthy_beanstalk_target_is_recorded_with_its_version_label_and_reported_as_success(aws):
    beanstalk_runs(aws, "app-8f2c-1733022000")
    urlopen = urlopen_answering(200)
    run(aws, URL_ENV, "success", "healthy (HTTP 200)", urlopen)
    assert urlopen.calls == [("https://billing.example.test/health", 2.0)]
    record = item(aws, URL_ENV)
    assert record["Outcome"] == "healthy" and record["ExecutionId"] == "exec-1"
    assert record["Kind"] == "beanstalk" and record["ArtifactVersion"] == "app-8f2c-1733022000"
    assert record["ImageDigest"] == ""
    assert record["SourceVersion"] == SOURCE_REVISION and record["Version"] == f"Source={SOURCE_REVISION}"
    assert record["DeployedAt"].endswith("#exec-1")
    assert int(record["ExpiresAt"]) - int(record["EndedAt"]) == 400 * 86400


def test_unhealthy_target_is_recorded_and_fails_the_job_after_bounded_retries(aws):
    beanstalk_runs(aws, "v2")
    urlopen = urlopen_answering(urllib.error.HTTPError("u", 503, "Service Unavailable", {}, None))
    summary, sleeps = run(aws, URL_ENV, "failure", "unhealthy", urlopen)
    assert len(urlopen.calls) == 3 and sleeps == [1, 2], "three attempts, backing off between them"
    assert "503" in summary
    record = item(aws, URL_ENV)
    assert record["Outcome"] == "unhealthy" and record["ArtifactVersion"] == "v2"


def test_a_timeout_is_unhealthy(aws):
    beanstalk_runs(aws, "v2")
    urlopen = urlopen_answering(socket.timeout("timed out"), urllib.error.URLError("refused"),
                                socket.timeout("timed out"))
    run(aws, URL_ENV, "failure", "timed out", urlopen)
    assert all(timeout == 2.0 for _, timeout in urlopen.calls)


def test_a_target_that_recovers_within_the_attempts_is_healthy(aws):
    beanstalk_runs(aws, "v2")
    run(aws, URL_ENV, "success", "healthy", urlopen_answering(502, 200))


def test_a_history_error_does_not_fail_a_healthy_deployment(aws):
    beanstalk_runs(aws, "v2")
    aws("dynamodb").delete_table(TableName=TABLE)
    summary, _ = run(aws, URL_ENV, "success", f"NOT recorded in {TABLE}")
    assert "ResourceNotFoundException" in summary


def test_a_history_error_with_an_unhealthy_target_still_fails(aws):
    beanstalk_runs(aws, "v2")
    aws("dynamodb").delete_table(TableName=TABLE)
    run(aws, URL_ENV, "failure", "NOT recorded", urlopen_answering(500))


def test_a_version_that_cannot_be_read_is_recorded_empty_and_the_health_check_decides(aws):
    aws.stub("elasticbeanstalk").add_client_error("describe_environments", "AccessDenied", "not authorized")
    summary, _ = run(aws, URL_ENV, "success", "healthy (HTTP 200; version not read: ClientError")
    record = item(aws, URL_ENV)
    assert record["Outcome"] == "healthy" and record["ArtifactVersion"] == ""
    assert "AccessDenied" in record["Detail"]


def test_an_unknown_beanstalk_environment_is_a_version_not_read(aws):
    aws.stub("elasticbeanstalk").add_response("describe_environments", {"Environments": []})
    run(aws, URL_ENV, "failure", "version not read: ValueError", urlopen_answering(500))
    assert item(aws, URL_ENV)["ArtifactVersion"] == ""


# -- ECS: the task definition revision the service runs, the image digest ------------------------------------
ECS_ENV = dict({k: v for k, v in URL_ENV.items() if k != "BEANSTALK_ENVIRONMENT"},
               TARGET_KIND="ecs-rolling", ECS_CLUSTER="acme-live-billing", ECS_SERVICE="acme-live-billing")


def ecs_service(aws, *images):
    """A service (moto) whose task definition was registered once per image; it runs the last revision."""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName=ECS_ENV["ECS_CLUSTER"])
    arns = [ecs.register_task_definition(family="billing", containerDefinitions=[
        {"name": "app", "image": image, "memory": 512}])["taskDefinition"]["taskDefinitionArn"] for image in images]
    ecs.create_service(cluster=ECS_ENV["ECS_CLUSTER"], serviceName=ECS_ENV["ECS_SERVICE"],
                       taskDefinition=arns[-1], desiredCount=1)
    return arns


@pytest.mark.parametrize("kind", ["ecs-rolling", "ecs-bluegreen"])
def test_ecs_records_the_primary_task_definition_revision_and_the_image_digest(aws, kind):
    arns = ecs_service(aws, f"{REPOSITORY}:1.0", f"{REPOSITORY}@{DIGEST}")
    env = dict(ECS_ENV, TARGET_KIND=kind)
    run(aws, env, "success", "healthy")
    record = item(aws, env)
    assert record["Kind"] == kind
    assert record["ArtifactVersion"] == arns[-1] and record["ArtifactVersion"].endswith(":2")
    assert record["ImageDigest"] == DIGEST


def test_ecs_with_a_tagged_image_records_no_digest(aws):
    arns = ecs_service(aws, f"{REPOSITORY}:1.0")
    run(aws, ECS_ENV, "success", "healthy")
    record = item(aws, ECS_ENV)
    assert record["ArtifactVersion"] == arns[0] and record["ImageDigest"] == ""


def test_ecs_codedeploy_records_the_primary_task_set_not_the_draining_one(aws):
    """A CodeDeploy-controlled service reports task sets; the PRIMARY one serves production traffic."""
    cluster, service = ECS_ENV["ECS_CLUSTER"], ECS_ENV["ECS_SERVICE"]
    old, new = (f"arn:aws:ecs:eu-west-1:123456789012:task-definition/billing:{n}" for n in (6, 7))
    ecs = aws.stub("ecs")
    ecs.add_response("describe_services", {"services": [{
        "serviceName": service, "taskDefinition": old, "deployments": [],
        "taskSets": [{"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": old},
                     {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": new}]}]},
        {"cluster": cluster, "services": [service]})
    ecs.add_response("describe_task_definition", {"taskDefinition": {"taskDefinitionArn": new, "containerDefinitions": [
        {"name": "app", "image": f"{REPOSITORY}@{DIGEST}"}]}}, {"taskDefinition": new})
    env = dict(ECS_ENV, TARGET_KIND="ecs-bluegreen")
    run(aws, env, "success", "healthy")
    record = item(aws, env)
    assert record["ArtifactVersion"] == new and record["ImageDigest"] == DIGEST


def test_ecs_service_not_found_is_a_version_not_read(aws):
    aws("ecs").create_cluster(clusterName=ECS_ENV["ECS_CLUSTER"])
    run(aws, ECS_ENV, "success", "version not read")
    assert item(aws, ECS_ENV)["ArtifactVersion"] == ""


# -- Lambda: the version the alias points at; no URL ----------------------------------------------------------
LAMBDA_ENV = {"TABLE": TABLE, "APPLICATION": "quotes", "ENVIRONMENT": "live", "TTL_DAYS": "30",
              "TARGET_KIND": "lambda", "FUNCTION_NAME": "acme-live-quotes", "FUNCTION_ALIAS": "live"}


def function_with_alias(aws, weights=False):
    """A function (moto) with two published versions and the alias on the second."""
    role = aws("iam").create_role(RoleName="quotes", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    client, name = aws("lambda"), LAMBDA_ENV["FUNCTION_NAME"]
    client.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                           Code={"ZipFile": package.getvalue()})
    first = client.publish_version(FunctionName=name)["Version"]
    client.update_function_code(FunctionName=name, ZipFile=package.getvalue())
    second = client.publish_version(FunctionName=name)["Version"]
    routing = {"RoutingConfig": {"AdditionalVersionWeights": {first: 0.25}}} if weights else {}
    client.create_alias(FunctionName=name, Name=LAMBDA_ENV["FUNCTION_ALIAS"], FunctionVersion=second, **routing)
    return first, second


def test_lambda_records_the_version_its_alias_points_at_without_any_url(aws):
    _, second = function_with_alias(aws)
    urlopen = urlopen_answering(AssertionError("a Lambda target has no URL to call"))
    summary, _ = run(aws, LAMBDA_ENV, "success", f"acme-live-quotes:live healthy (version {second})", urlopen)
    assert urlopen.calls == []
    record = item(aws, LAMBDA_ENV)
    assert (record["Kind"], record["ArtifactVersion"], record["ImageDigest"]) == ("lambda", second, "")
    assert record["Outcome"] == "healthy" and record["SourceVersion"] == SOURCE_REVISION


def test_lambda_with_weighted_routing_records_the_main_version_and_the_weight_in_detail(aws):
    first, second = function_with_alias(aws, weights=True)
    run(aws, LAMBDA_ENV, "success", "healthy")
    record = item(aws, LAMBDA_ENV)
    assert record["ArtifactVersion"] == second
    assert f"version {first} weight 0.25" in record["Detail"]


def test_lambda_alias_that_cannot_be_read_is_unhealthy_and_fails_the_job(aws):
    summary, _ = run(aws, LAMBDA_ENV, "failure", "acme-live-quotes:live unhealthy (version not read: "
                     "ResourceNotFoundException")
    record = item(aws, LAMBDA_ENV)
    assert record["Outcome"] == "unhealthy" and record["ArtifactVersion"] == ""


# -- every kind the recorder stack serves has a reader, and the module fits inline -----------------------------
def test_every_recorded_kind_has_a_reader():
    assert set(recorder_stack.KINDS) == set(fn.READERS)


def test_the_module_fits_inline_and_its_inline_form_is_the_same_program():
    inline = source("record_deployment")
    assert zipped_size(inline) <= INLINE_ZIP_LIMIT
    tokens = list(tokenize.generate_tokens(io.StringIO(inline).readline))
    assert not [t for t in tokens if t.type == tokenize.COMMENT], "comments are dropped"
    assert ast.get_docstring(ast.parse(inline)) is None, "so are docstrings"
    namespace = {}
    exec(compile(inline, "index.py", "exec"), namespace)  # noqa: S102 - our own module
    assert sorted(k for k in namespace if not k.startswith("__")) == sorted(
        k for k in vars(fn) if not k.startswith("__"))


def test_the_inline_form_runs_like_the_module(aws):
    """The compacted code the template carries records the same item as the module."""
    namespace = {}
    exec(compile(source("record_deployment"), "index.py", "exec"), namespace)  # noqa: S102
    beanstalk_runs(aws, "v9")
    aws.stub("codepipeline").add_response("put_job_success_result", {}, None)
    namespace["handler"](EVENT, None, sleep=lambda s: None, urlopen=urlopen_answering(200), env=URL_ENV, aws=aws)
    assert item(aws, URL_ENV)["ArtifactVersion"] == "v9"


# -- the record contract the history and rollback commands read (generator/operate/records.py) ----------------
def test_what_the_recorder_writes_is_what_history_and_rollback_read(aws):
    from generator.operate import records

    arns = ecs_service(aws, f"{REPOSITORY}@{DIGEST}")
    run(aws, ECS_ENV, "success", "healthy")
    [record] = records.query(aws("dynamodb"), TABLE, ECS_ENV["APPLICATION"], ECS_ENV["ENVIRONMENT"])
    assert records.is_candidate(record, ECS_ENV["TARGET_KIND"]) and not records.is_candidate(record, "lambda")
    assert record["ArtifactVersion"] == arns[0] and record["ImageDigest"] == DIGEST
    assert records.source_version(record) == SOURCE_REVISION
    assert records.deployed_at(record) and isinstance(record["ExpiresAt"], int)


def test_a_record_without_a_version_is_never_a_rollback_candidate(aws):
    from generator.operate import records

    aws.stub("elasticbeanstalk").add_client_error("describe_environments", "AccessDenied", "not authorized")
    run(aws, URL_ENV, "success", "version not read")
    [record] = records.query(aws("dynamodb"), TABLE, URL_ENV["APPLICATION"], URL_ENV["ENVIRONMENT"])
    assert record["Outcome"] == "healthy" and not records.is_candidate(record, "beanstalk")
