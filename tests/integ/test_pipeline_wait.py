"""Waiting for a pipeline execution (botocore Stubber for CodePipeline): succeeded, failed,
a waiting approval with and without --approve, timeout, finding the execution of an upload."""
from __future__ import annotations

import datetime

import pytest
from botocore.stub import ANY, Stubber

from generator.integ import pipeline

from .conftest import offline_client

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NAME, EXEC = "demo-tools-pipeline", "11111111-2222-3333-4444-555555555555"
STAGES = ["Source", "Build", "DeployStaging", "Approval", "DeployProduction"]


def structure():
    def action(name, category, provider, configuration=None):
        return {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider,
                                               "version": "1"}, "configuration": configuration or {}}
    return {"pipeline": {"name": NAME, "roleArn": "arn:aws:iam::123456789012:role/r", "stages": [
        {"name": "Source", "actions": [action("Source", "Source", "S3", {"S3Bucket": "b", "S3ObjectKey": "k"})]},
        {"name": "Build", "actions": [action("Build", "Build", "CodeBuild", {"ProjectName": "p"})]},
        {"name": "DeployStaging", "actions": [action("Deploy", "Deploy", "ElasticBeanstalk",
                                                     {"ApplicationName": "app", "EnvironmentName": "env-staging"})]},
        {"name": "Approval", "actions": [action("Promote", "Approval", "Manual")]},
        {"name": "DeployProduction", "actions": [action("Deploy", "Deploy", "ElasticBeanstalk",
                                                        {"ApplicationName": "app", "EnvironmentName": "env-prod"})]},
    ]}}


def stage_state(name, status, action_status=None, token=None, error=None, execution=EXEC):
    latest = {"status": action_status or status}
    if token:
        latest["token"] = token
    if error:
        latest["errorDetails"] = {"code": "JobFailed", "message": error}
    return {"stageName": name, "latestExecution": {"pipelineExecutionId": execution, "status": status},
            "actionStates": [{"actionName": "Promote" if name == "Approval" else "Deploy", "latestExecution": latest}]}


def state(*stages):
    return {"pipelineName": NAME, "stageStates": list(stages)}


def execution(status):
    return {"pipelineExecution": {"pipelineName": NAME, "pipelineExecutionId": EXEC, "status": status}}


def actions(*stage_seconds):
    details = []
    for name, seconds in stage_seconds:
        details.append({"pipelineExecutionId": EXEC, "actionExecutionId": f"a-{name}", "stageName": name,
                        "actionName": "Deploy", "startTime": T0,
                        "lastUpdateTime": T0 + datetime.timedelta(seconds=seconds), "status": "Succeeded"})
    return {"actionExecutionDetails": details}


class Poll:
    """Stub one polling round: GetPipelineExecution, GetPipelineState, ListActionExecutions when a
    stage finished."""

    def __init__(self, stubber):
        self.stubber = stubber

    def __call__(self, overall, stages, durations=None):
        self.stubber.add_response("get_pipeline_execution", execution(overall),
                                  {"pipelineName": NAME, "pipelineExecutionId": EXEC})
        self.stubber.add_response("get_pipeline_state", state(*stages), {"name": NAME})
        if durations is not None:
            self.stubber.add_response("list_action_executions", actions(*durations),
                                      {"pipelineName": NAME, "filter": {"pipelineExecutionId": EXEC}})


@pytest.fixture
def cp():
    client = offline_client("codepipeline")
    with Stubber(client) as stubber:
        stubber.add_response("get_pipeline", structure(), {"name": NAME})
        yield client, stubber, Poll(stubber)
        stubber.assert_no_pending_responses()


def watcher(client, clock, **kwargs):
    seen = []
    w = pipeline.Watcher(client, NAME, poll_seconds=10, timeout_seconds=kwargs.pop("timeout", 600),
                         on_stage=seen.append, clock=clock, sleep=clock.sleep, out=lambda *a, **k: None, **kwargs)
    return w, seen


def test_every_stage_succeeds_and_each_is_reported_once_with_its_duration(cp, clock):
    client, stubber, poll = cp
    poll("InProgress", [stage_state("Source", "Succeeded"), stage_state("Build", "InProgress")],
         durations=[("Source", 4)])
    poll("InProgress", [stage_state("Source", "Succeeded"), stage_state("Build", "Succeeded"),
                        stage_state("DeployStaging", "InProgress")], durations=[("Source", 4), ("Build", 95)])
    poll("Succeeded", [stage_state(s, "Succeeded") for s in STAGES],
         durations=[("Source", 4), ("Build", 95), ("DeployStaging", 120), ("Approval", 30), ("DeployProduction", 130)])
    w, seen = watcher(client, clock)
    outcome = w.wait(EXEC)
    assert outcome.ok and outcome.status == pipeline.SUCCEEDED
    assert [s.name for s in seen] == STAGES                         # on_stage once per stage, in order
    assert {s.name: s.seconds for s in outcome.stages} == {
        "Source": 4, "Build": 95, "DeployStaging": 120, "Approval": 30, "DeployProduction": 130}
    # the deploy stages carry what their action deploys (matched against the target stacks' outputs)
    assert "env-staging" in seen[2].deploy_targets and "env-prod" in seen[4].deploy_targets
    assert clock.sleeps == [10, 10]


def test_a_failed_stage_ends_the_wait_with_the_actions_error(cp, clock):
    client, stubber, poll = cp
    poll("InProgress", [stage_state("Source", "Succeeded"),
                        stage_state("Build", "Failed", error="COMMAND_EXECUTION_ERROR: pytest exited 1")],
         durations=[("Source", 3), ("Build", 60)])
    w, seen = watcher(client, clock)
    outcome = w.wait(EXEC)
    assert outcome.status == pipeline.FAILED and not outcome.ok
    assert "stage Build failed" in outcome.detail and "pytest exited 1" in outcome.detail
    assert [s.name for s in seen] == ["Source"]                     # no health check after a failed stage


def test_a_waiting_approval_stops_the_wait_and_says_how_to_approve(cp, clock):
    client, stubber, poll = cp
    poll("InProgress", [stage_state(s, "Succeeded") for s in STAGES[:3]]
         + [stage_state("Approval", "InProgress", token="tok-1")],
         durations=[("Source", 1), ("Build", 2), ("DeployStaging", 3)])
    w, _ = watcher(client, clock)
    outcome = w.wait(EXEC)
    assert outcome.status == pipeline.APPROVAL
    assert "aws codepipeline put-approval-result --pipeline-name demo-tools-pipeline --stage-name Approval " \
           "--action-name Promote --token tok-1" in outcome.detail
    assert "--approve" in outcome.detail


def test_with_approve_the_approval_is_given_and_the_wait_goes_on(cp, clock):
    client, stubber, poll = cp
    waiting = [stage_state(s, "Succeeded") for s in STAGES[:3]] + [stage_state("Approval", "InProgress", token="tok-1")]
    poll("InProgress", waiting, durations=[("Source", 1), ("Build", 2), ("DeployStaging", 3)])
    stubber.add_response("put_approval_result", {"approvedAt": T0}, {
        "pipelineName": NAME, "stageName": "Approval", "actionName": "Promote", "token": "tok-1",
        "result": {"summary": ANY, "status": "Approved"}})
    poll("InProgress", waiting)                                     # the same token is not approved twice
    poll("Succeeded", [stage_state(s, "Succeeded") for s in STAGES],
         durations=[("Source", 1), ("Build", 2), ("DeployStaging", 3), ("Approval", 9), ("DeployProduction", 4)])
    w, seen = watcher(client, clock, approve=True)
    outcome = w.wait(EXEC)
    assert outcome.ok
    assert [s.name for s in seen] == STAGES


def test_timeout_names_the_running_stage(cp, clock):
    client, stubber, poll = cp
    for _ in range(4):
        poll("InProgress", [stage_state("Source", "Succeeded"), stage_state("Build", "InProgress")],
             durations=[("Source", 2)] if _ == 0 else None)
    w, _ = watcher(client, clock, timeout=30)
    outcome = w.wait(EXEC)
    assert outcome.status == pipeline.TIMEOUT
    assert "in stage Build" in outcome.detail and "30 s" in outcome.detail
    assert clock.now >= 30


def test_stage_states_of_another_execution_are_ignored(cp, clock):
    client, stubber, poll = cp
    other = "99999999-2222-3333-4444-555555555555"
    poll("InProgress", [stage_state("Source", "Succeeded", execution=other),
                        stage_state("Build", "Failed", error="old failure", execution=other)])
    poll("Stopped", [stage_state("Source", "Succeeded", execution=other)])
    w, seen = watcher(client, clock)
    outcome = w.wait(EXEC)
    assert outcome.status == pipeline.STOPPED and seen == []


def test_the_execution_of_an_upload_is_found_by_its_version_id(clock):
    client = offline_client("codepipeline")
    summary = {"pipelineExecutionId": EXEC, "status": "InProgress", "startTime": T0,
               "sourceRevisions": [{"actionName": "Source", "revisionId": "v2"}]}
    older = dict(summary, pipelineExecutionId="old", sourceRevisions=[{"actionName": "Source", "revisionId": "v1"}])
    with Stubber(client) as stubber:
        stubber.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [older]},
                             {"pipelineName": NAME, "maxResults": 20})
        stubber.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [summary, older]},
                             {"pipelineName": NAME, "maxResults": 20})
        w, _ = watcher(client, clock)
        assert w.find_execution(revision_id="v2") == EXEC
        stubber.assert_no_pending_responses()


def test_no_execution_for_the_upload_times_out_with_a_hint(clock):
    client = offline_client("codepipeline")
    with Stubber(client) as stubber:
        for _ in range(3):
            stubber.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": []},
                                 {"pipelineName": NAME, "maxResults": 20})
        w, _ = watcher(client, clock, timeout=20)
        with pytest.raises(TimeoutError, match="source trigger"):
            w.find_execution(revision_id="v9")
