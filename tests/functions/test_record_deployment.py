"""The deployment recorder (generator/functions/record_deployment.py): health check with bounded retries,
the history record (moto's DynamoDB, in-process) and the job result reported to CodePipeline (botocore
Stubber: moto cannot answer CodePipeline job calls)."""
import socket
import urllib.error

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from generator.functions import INLINE_LIMIT, record_deployment as fn, source

ENV = {"TABLE": "acme-ops-deployments", "APPLICATION": "billing", "ENVIRONMENT": "live",
       "TARGET_URL": "https://billing.example.test/", "HEALTH_PATH": "/health", "ATTEMPTS": "3", "TIMEOUT": "2",
       "TTL_DAYS": "400"}
EVENT = {"CodePipeline.job": {"id": "11111111-2222-3333-4444-555555555555", "data": {
    "pipelineContext": {"pipelineName": "acme-ops-billing", "pipelineExecutionId": "exec-1"},
    "inputArtifacts": [{"name": "Source", "revision": "3HL4kqtJlcpXroDTDmJ"}]}}}


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


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        table = boto3.client("dynamodb")
        table.create_table(TableName=ENV["TABLE"], BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[{"AttributeName": "Target", "AttributeType": "S"},
                                                 {"AttributeName": "DeployedAt", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "Target", "KeyType": "HASH"},
                                      {"AttributeName": "DeployedAt", "KeyType": "RANGE"}])
        pipeline = boto3.client("codepipeline")
        with Stubber(pipeline) as stub:
            yield pipeline, table, stub


def run(aws, urlopen, expect, message_part):
    pipeline, table, stub = aws
    job = EVENT["CodePipeline.job"]["id"]
    if expect == "success":
        stub.add_response("put_job_success_result", {}, {"jobId": job, "executionDetails": {"summary": ANY}})
    else:
        stub.add_response("put_job_failure_result", {},
                          {"jobId": job, "failureDetails": {"type": "JobFailed", "message": ANY}})
    sleeps = []
    summary = fn.handler(EVENT, None, clients=(pipeline, table), sleep=sleeps.append, urlopen=urlopen, env=ENV)
    stub.assert_no_pending_responses()
    assert message_part in summary
    return summary, sleeps


def items(table):
    return table.query(TableName=ENV["TABLE"], KeyConditionExpression="Target = :t",
                       ExpressionAttributeValues={":t": {"S": "billing#live"}})["Items"]


def test_healthy_target_is_recorded_and_reported_as_success(aws):
    urlopen = urlopen_answering(200)
    run(aws, urlopen, "success", "healthy (HTTP 200)")
    assert urlopen.calls == [("https://billing.example.test/health", 2.0)]
    [item] = items(aws[1])
    assert item["Outcome"] == {"S": "healthy"} and item["ExecutionId"] == {"S": "exec-1"}
    assert item["Version"] == {"S": "Source=3HL4kqtJlcpXroDTDmJ"}
    assert item["DeployedAt"]["S"].endswith("#exec-1")
    assert int(item["ExpiresAt"]["N"]) - int(item["EndedAt"]["N"]) == 400 * 86400


def test_unhealthy_target_is_recorded_and_fails_the_job_after_bounded_retries(aws):
    urlopen = urlopen_answering(urllib.error.HTTPError("u", 503, "Service Unavailable", {}, None))
    summary, sleeps = run(aws, urlopen, "failure", "unhealthy")
    assert len(urlopen.calls) == 3 and sleeps == [1, 2], "three attempts, backing off between them"
    assert "503" in summary
    [item] = items(aws[1])
    assert item["Outcome"] == {"S": "unhealthy"}


def test_a_timeout_is_unhealthy(aws):
    urlopen = urlopen_answering(socket.timeout("timed out"), urllib.error.URLError("refused"),
                                socket.timeout("timed out"))
    summary, _ = run(aws, urlopen, "failure", "timed out")
    assert all(timeout == 2.0 for _, timeout in urlopen.calls)


def test_a_target_that_recovers_within_the_attempts_is_healthy(aws):
    run(aws, urlopen_answering(502, 200), "success", "healthy")


def test_a_history_error_does_not_fail_a_healthy_deployment(aws):
    pipeline, table, stub = aws
    table.delete_table(TableName=ENV["TABLE"])
    summary, _ = run(aws, urlopen_answering(200), "success", "NOT recorded in acme-ops-deployments")
    assert "ResourceNotFoundException" in summary


def test_a_history_error_with_an_unhealthy_target_still_fails(aws):
    pipeline, table, stub = aws
    table.delete_table(TableName=ENV["TABLE"])
    run(aws, urlopen_answering(500), "failure", "NOT recorded")


def test_the_module_fits_inline():
    assert len(source("record_deployment").encode()) <= INLINE_LIMIT
