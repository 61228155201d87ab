"""``cfn-delivery rollback`` for each application kind with botocore Stubber: the calls it makes and their
parameters, the version it picks (or refuses to), and deploy's confirmation rules. A call the test did not
queue fails the Stubber, so "no mutating call" is asserted by not queueing one."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from botocore.stub import ANY, Stubber

from generator import cli, stackmodel
from generator.operate import cli as operate, place as places

from .conftest import (ACCOUNT, KINDS, REGION, client, clients_with, item, stack_outputs, stub_identity,
                       stub_table_stack, table_name, use_model_with, wave)

NEWEST, PREVIOUS, OLDER, OLDEST = ("2026-11-30T09:00:00Z", "2026-11-29T09:00:00Z", "2026-11-28T09:00:00Z",
                                   "2026-11-27T09:00:00Z")


class Kind:
    """One kind's target: the names its stack outputs, its versions, and the calls on it."""

    service = ""       # the client of the live version and the checks
    start_service = None  # the client of the switch (default: ``service``)

    def __init__(self, model, app, env):
        self.model, self.app, self.env = model, app, env
        self.prefix = f"{model.project.name}-{env}-{app.name}"
        self.exports = places.resolve(app.name, env).target_stack.EXPORTS

    def version(self, n) -> str:
        raise NotImplementedError

    def outputs(self) -> dict:
        raise NotImplementedError

    def stub_current(self, stub, n):
        raise NotImplementedError

    def stub_check(self, stub, n):
        pass

    def stub_start(self, stubs, n):
        raise NotImplementedError

    @property
    def typed(self) -> str:  # the name a protected environment needs typed
        raise NotImplementedError


class Beanstalk(Kind):
    service = "elasticbeanstalk"

    def version(self, n):
        return f"{self.app.name}-build-{n}"

    @property
    def typed(self):
        return self.prefix

    def outputs(self):
        return {self.exports.environment_name.key: self.prefix}

    def stub_current(self, stub, n):
        stub.add_response("describe_environments", {"Environments": [{
            "EnvironmentName": self.prefix, "ApplicationName": f"{self.prefix}-app", "VersionLabel": self.version(n),
            "Status": "Ready"}]}, {"EnvironmentNames": [self.prefix], "IncludeDeleted": False})

    def stub_check(self, stub, n, exists=True):
        found = [{"ApplicationName": f"{self.prefix}-app", "VersionLabel": self.version(n)}] if exists else []
        stub.add_response("describe_application_versions", {"ApplicationVersions": found},
            {"ApplicationName": f"{self.prefix}-app", "VersionLabels": [self.version(n)]})

    def stub_start(self, stubs, n):
        stubs[self.service].add_response("update_environment", {}, {"EnvironmentName": self.prefix, "VersionLabel": self.version(n)})


class Ecs(Kind):
    service = "ecs"

    @property
    def typed(self):
        return f"{self.prefix}-svc"

    def version(self, n):
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{self.prefix}:{n}"

    def outputs(self):
        x = self.exports
        return {x.cluster_name.key: f"{self.prefix}-cluster", x.service_name.key: self.typed}

    def service_body(self, n):
        return {"serviceName": self.typed, "status": "ACTIVE", "taskDefinition": self.version(n),
                "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "web", "containerPort": 8080}]}

    def stub_current(self, stub, n):
        stub.add_response("describe_services", {"services": [self.service_body(n)]},
                          {"cluster": f"{self.prefix}-cluster", "services": [self.typed]})

    def stub_check(self, stub, n, status="ACTIVE"):
        stub.add_response("describe_task_definition", {"taskDefinition": {
            "taskDefinitionArn": self.version(n), "status": status}}, {"taskDefinition": self.version(n)})


class EcsRolling(Ecs):

    def stub_start(self, stubs, n):
        answer = {"service": {"deployments": [{"id": "ecs-svc/1", "status": "PRIMARY"}]}}
        stubs[self.service].add_response("update_service", answer,
                          {"cluster": f"{self.prefix}-cluster", "service": self.typed,
                           "taskDefinition": self.version(n)})


class EcsBlueGreen(Ecs):
    start_service = "codedeploy"

    def outputs(self):
        x = self.exports
        return dict(super().outputs(), **{x.application_name.key: f"{self.prefix}-cd",
                                          x.deployment_group_name.key: f"{self.prefix}-dg"})

    def service_body(self, n):  # a CODE_DEPLOY service: the primary task set runs the live revision
        body = super().service_body(n + 100)
        body["taskSets"] = [{"status": "PRIMARY", "taskDefinition": self.version(n),
                             "loadBalancers": body["loadBalancers"]}]
        return body

    def start_params(self, n):
        content = json.dumps({"version": 0.0, "Resources": [{"TargetService": {
            "Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": self.version(n),
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080}}}}]},
            sort_keys=True)
        return {"applicationName": f"{self.prefix}-cd", "deploymentGroupName": f"{self.prefix}-dg",
                "revision": {"revisionType": "AppSpecContent", "appSpecContent": {
                    "content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}},
                "description": ANY}

    def stub_start(self, stubs, n):
        stubs["codedeploy"].add_response("create_deployment", {"deploymentId": "d-ROLLBACK1"}, self.start_params(n))


class Lambda(Kind):
    service = "lambda"

    @property
    def typed(self):
        return self.prefix

    def version(self, n):
        return str(n)

    def outputs(self):
        return {self.exports.function_name.key: self.prefix, self.exports.alias_name.key: "live"}

    def stub_current(self, stub, n):
        stub.add_response("get_alias", {"Name": "live", "FunctionVersion": self.version(n),
                                        "RoutingConfig": {"AdditionalVersionWeights": {str(n + 1): 0.1}}},
                          {"FunctionName": self.prefix, "Name": "live"})

    def stub_check(self, stub, n):
        stub.add_response("get_function_configuration", {"FunctionName": self.prefix, "Version": self.version(n)},
                          {"FunctionName": self.prefix, "Qualifier": self.version(n)})

    def stub_start(self, stubs, n):
        stubs[self.service].add_response("update_alias", {"Name": "live", "FunctionVersion": self.version(n)}, {
            "FunctionName": self.prefix, "Name": "live", "FunctionVersion": self.version(n),
            "RoutingConfig": {"AdditionalVersionWeights": {}}})


HANDLERS = {"beanstalk": Beanstalk, "ecs-bluegreen": EcsBlueGreen, "ecs-rolling": EcsRolling, "lambda": Lambda}


class Rig:
    """Stubbed clients for one rollback of ``kind``: the identity, the stacks' outputs, the history."""

    def __init__(self, monkeypatch, kind, protected=False):
        self.model, self.app = use_model_with(monkeypatch, kind)
        self.env = wave(self.model, self.app, protected)
        self.kind = HANDLERS[kind](self.model, self.app, self.env)
        names = ("cloudformation", "sts", "dynamodb", self.kind.service, self.kind.start_service or self.kind.service)
        self.clients = {name: client(name) for name in names}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}
        self.history = []

    def record(self, when, execution, n=None, outcome="healthy"):
        self.history.append(item(self.app.name, self.env, when, execution, outcome, self.app.kind,
                                 None if n is None else self.kind.version(n)))

    def reads(self, current):
        """The calls every rollback makes before deciding: identity, outputs, live version, history."""
        s = self.stubs
        stub_identity(s["sts"], self.model, self.env)
        stub_identity(s["sts"], self.model, self.model.tools)
        stub_table_stack(s["cloudformation"], self.model)
        target = stackmodel.stack_name(self.model.project.name, self.env, places.resolve(self.app.name,
                                                                                          self.env).target_stack.name)
        s["cloudformation"].add_response("describe_stacks", stack_outputs(target, self.kind.outputs()),
                                         {"StackName": target})
        self.kind.stub_current(s[self.kind.service], current)
        s["dynamodb"].add_response("query", {"Items": sorted(self.history, key=lambda i: i["DeployedAt"]["S"],
                                                             reverse=True)}, {
            "TableName": table_name(self.model), "KeyConditionExpression": "#t = :t",
            "ExpressionAttributeNames": {"#t": "Target"},
            "ExpressionAttributeValues": {":t": {"S": f"{self.app.name}#{self.env}"}}, "ScanIndexForward": False})

    def run(self, *argv, stdin=""):
        args = cli.build_parser().parse_args(["rollback", "--app", self.app.name, "--env", self.env, *argv])
        for stub in self.stubs.values():
            stub.activate()
        try:
            stdin = io.StringIO(stdin) if isinstance(stdin, str) else stdin
            code = operate.run_rollback(args, clients=clients_with(**self.clients), stdin=stdin)
            for stub in self.stubs.values():
                stub.assert_no_pending_responses()
        finally:
            for stub in self.stubs.values():
                stub.deactivate()
        return code

    @property
    def target(self):
        return self.stubs[self.kind.service]


def standard_history(rig):
    """Newest: the running version 8; before it an unhealthy 7, a healthy 6 (the one to go back to), an
    older record without an artifact version."""
    rig.record(NEWEST, "e8", 8)
    rig.record(PREVIOUS, "e7", 7, outcome="unhealthy")
    rig.record(OLDER, "e6", 6)
    rig.record(OLDEST, "e0")


@pytest.mark.parametrize("kind", KINDS)
def test_rolls_back_to_the_previous_good_version(monkeypatch, capsys, kind):
    rig = Rig(monkeypatch, kind)
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    rig.kind.stub_start(rig.stubs, 6)
    assert rig.run("--yes") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"rollback of {rig.app.name} in {rig.env} (account " in out and REGION in out
    assert f"kind:    {kind}" in out
    short = rig.kind.version(6).rsplit("/", 1)[-1]
    assert f"to:      {short} (deployed {OLDER}, execution e6" in out
    assert "[y/N]" not in out and "protected environment" not in out  # --yes: no prompt
    assert "no CloudFormation stack was changed" in out


@pytest.mark.parametrize("kind", KINDS)
def test_no_earlier_good_version_is_refused(monkeypatch, capsys, kind):
    rig = Rig(monkeypatch, kind)
    rig.record(NEWEST, "e8", 8)
    rig.record(PREVIOUS, "e7", 7, outcome="unhealthy")
    rig.record(OLDER, "e0")  # older record: never a candidate
    rig.reads(current=8)
    assert rig.run("--yes") == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: no earlier good version of {rig.app.name} in {rig.env}")
    assert len(err.strip().splitlines()) == 1


def test_to_an_unknown_version_is_refused_with_the_candidates(monkeypatch, capsys):
    rig = Rig(monkeypatch, "ecs-rolling")
    standard_history(rig)
    rig.reads(current=8)
    assert rig.run("--to", rig.kind.version(7), "--yes") == 3  # recorded, but unhealthy
    err = capsys.readouterr().err
    short = lambda n: rig.kind.version(n).rsplit("/", 1)[-1]  # noqa: E731
    assert f"candidates, newest first: {short(8)}, {short(6)}" in err


def test_to_a_named_version_by_family_and_revision(monkeypatch, capsys):
    rig = Rig(monkeypatch, "ecs-rolling")
    standard_history(rig)
    rig.record("2026-11-26T09:00:00Z", "e5", 5)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 5)
    rig.kind.stub_start(rig.stubs, 5)
    assert rig.run("--to", rig.kind.version(5).rsplit("/", 1)[-1], "--yes") == 0, capsys.readouterr().err


def test_to_the_running_version_does_nothing(monkeypatch, capsys):
    rig = Rig(monkeypatch, "lambda")
    standard_history(rig)
    rig.reads(current=8)
    assert rig.run("--to", "8") == 0
    assert "already runs 8; nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize("kind", KINDS)
def test_protected_environment_without_the_typed_name_is_refused(monkeypatch, capsys, kind):
    rig = Rig(monkeypatch, kind, protected=True)
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    assert rig.run(stdin="y\n") == 3  # y is not the name: no mutating call was queued, none was made
    captured = capsys.readouterr()
    assert f"{rig.env} is a protected environment: type the" in captured.out and f"({rig.kind.typed})" in captured.out
    assert captured.err.startswith(f"error: not confirmed: {rig.kind.typed} unchanged")


def test_protected_environment_with_the_typed_name_rolls_back(monkeypatch, capsys):
    rig = Rig(monkeypatch, "beanstalk", protected=True)
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    rig.kind.stub_start(rig.stubs, 6)
    assert rig.run(stdin=rig.kind.typed + "\n") == 0, capsys.readouterr().err


@pytest.mark.parametrize("answer, code", [("y\n", 0), ("n\n", 3), ("", 3)])
def test_unprotected_environment_asks_y_n_and_no_stdin_is_a_refusal(monkeypatch, capsys, answer, code):
    rig = Rig(monkeypatch, "ecs-bluegreen")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    if code == 0:
        rig.kind.stub_start(rig.stubs, 6)
    assert rig.run(stdin=answer) == code
    out = capsys.readouterr().out
    assert f"roll {rig.kind.typed} back to {rig.kind.version(6).rsplit('/', 1)[-1]}? [y/N]" in out
    if code == 0:
        assert "started: CodeDeploy deployment d-ROLLBACK1" in out and "  follow: aws deploy get-deployment" in out


@pytest.mark.parametrize("kind", KINDS)
def test_dry_run_makes_no_mutating_call(monkeypatch, capsys, kind):
    rig = Rig(monkeypatch, kind, protected=True)
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    assert rig.run("--dry-run") == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("dry run: nothing was changed") and "protected environment" not in out


def test_lambda_rollback_ends_a_traffic_shift(monkeypatch, capsys):
    rig = Rig(monkeypatch, "lambda")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    assert rig.run("--dry-run") == 0
    assert "traffic shift in progress: version 9 gets 10% of live" in capsys.readouterr().out


def test_a_beanstalk_version_that_is_gone_is_refused(monkeypatch, capsys):
    rig = Rig(monkeypatch, "beanstalk")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6, exists=False)
    assert rig.run("--yes") == 3
    assert "no longer exists" in capsys.readouterr().err


def test_a_deregistered_task_definition_is_refused(monkeypatch, capsys):
    rig = Rig(monkeypatch, "ecs-rolling")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6, status="INACTIVE")
    assert rig.run("--yes") == 3
    assert "is INACTIVE (deregistered)" in capsys.readouterr().err


def test_a_refused_call_is_exit_1_in_one_line(monkeypatch, capsys):
    rig = Rig(monkeypatch, "ecs-rolling")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    rig.target.add_client_error("update_service", "AccessDeniedException", "not allowed")
    assert rig.run("--yes") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: UpdateService failed: AccessDeniedException") and len(err.strip().splitlines()) == 1


def test_a_second_rollback_goes_further_back(monkeypatch, capsys):
    """Rollbacks are not recorded: after one (6 runs, 8 is the newest record) the next goes before 6, not to 8."""
    rig = Rig(monkeypatch, "beanstalk")
    standard_history(rig)
    rig.record("2026-11-26T09:00:00Z", "e5", 5)
    rig.reads(current=6)
    rig.kind.stub_check(rig.target, 5)
    assert rig.run("--dry-run") == 0
    assert f"to:      {rig.kind.version(5)} (deployed 2026-11-26T09:00:00Z" in capsys.readouterr().out


def test_a_second_rollback_without_an_older_good_version_is_refused(monkeypatch, capsys):
    rig = Rig(monkeypatch, "lambda")
    standard_history(rig)
    rig.reads(current=6)
    assert rig.run("--yes") == 3
    assert "no earlier good version" in capsys.readouterr().err


def test_ctrl_c_at_the_prompt_changes_nothing(monkeypatch, capsys):
    class Interrupting(io.StringIO):
        def readline(self, *args):
            raise KeyboardInterrupt

    rig = Rig(monkeypatch, "ecs-rolling")
    standard_history(rig)
    rig.reads(current=8)
    rig.kind.stub_check(rig.target, 6)
    assert rig.run(stdin=Interrupting()) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted"
