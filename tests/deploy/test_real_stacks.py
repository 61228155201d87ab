"""Every generated template the local server can host deploys with its dev parameter file.

The stacks of ``dev`` are deployed in dependency order with the real templates and parameter files,
after the stacks of other environments they import from (``tools:ecr`` ...), through the deploy
tool, on a LocalStack server of their own (physical names come from the real ``shop`` parameters).
Skipped: stacks whose template has a resource type LocalStack cannot create offline, decided from
the template, and stacks requiring a stack that did not deploy. A stack that fails for another
LocalStack limitation is an xfail carrying the exact failure line, when that failure matches an
observed limitation in ``LOCALSTACK_LIMITS``; any other failure fails the test.
"""
from __future__ import annotations

import pytest

from generator import yamlio
from generator.deploy import plan
from generator.localserver import OFFLINE_UNSUPPORTED
from generator.stackmodel.aws import ApiCalls
from tests.localstack_server import aws_env, start_localstack

from .conftest import ROOT

TARGET_ENV = "dev"

#: (text in LocalStack's failure, why it is LocalStack's and not the template's), as observed.
#: (A missing AWS managed policy, for example, is not one: LocalStack knows them all with their paths,
#: e.g. service-role/AWSElasticBeanstalkEnhancedHealth.)
LOCALSTACK_LIMITS: list = [
    # Load balancers, listeners, rules and target groups, and every CodeBuild resource (the community server
    # has no CodeBuild), are placeholders on the local server: their Ref and attributes resolve to "unknown",
    # which IAM then rejects as a policy Resource (the service stacks scope their CodeDeploy and ECS
    # infrastructure roles to the ingress stack's listener and group ARNs; a CodeBuild project's role to its
    # report group's ARN, e.g. the image scanner that the ECR repository's policy imports).
    ("Resource unknown must be in ARN format",
     "ELBv2 and CodeBuild resources are placeholders whose ARNs resolve to 'unknown'"),
]


ORDER = plan.chain(TARGET_ENV)


@pytest.fixture(scope="module")
def server():
    try:
        srv = start_localstack()
    except RuntimeError as err:
        pytest.fail(f"LocalStack could not be started: {err}", pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def unprotected_model(tmp_path_factory):
    """The sample model with no protected environment: the sample's protected tools still has placeholder
    values, and deploying a protected environment with one is refused (tested in test_validation);
    here the generated templates are the subject."""
    path = tmp_path_factory.mktemp("model") / "delivery.yaml"
    path.write_text((ROOT / "delivery.yaml").read_text().replace("protected: true", "protected: false"))
    return path


@pytest.fixture(scope="module")
def outcome():
    return {}


def _types(stack):
    template = yamlio.load_file(ROOT / "templates" / f"{stack}.yaml")
    return {r.get("Type") for r in template.get("Resources", {}).values()}


@pytest.mark.parametrize("env, stack_cls", ORDER, ids=[f"{e}:{c.name}" for e, c in ORDER])
def test_generated_stack_deploys_on_the_server(server, outcome, unprotected_model, env, stack_cls, monkeypatch,
                                               capsys):
    from generator import cli
    from generator.deploy import protect

    name = stack_cls.name
    types = _types(name)
    unsupported = sorted(t for t in types if t in OFFLINE_UNSUPPORTED)
    if unsupported:
        outcome[(env, name)] = "skipped"
        pytest.skip(f"{env}:{name} has {', '.join(unsupported)}: LocalStack offline cannot create them "
                    f"({OFFLINE_UNSUPPORTED[unsupported[0]]})")
    missing = []
    for req in stack_cls.requires:
        req_env, _, req_stack = req.rpartition(":")
        key = (req_env or env, req_stack)
        if outcome.get(key) != "deployed":
            missing.append(f"{key[0]}:{key[1]} ({outcome.get(key, 'not deployed')})")
    if missing:
        outcome[(env, name)] = "skipped"
        pytest.skip(f"{env}:{name} requires {', '.join(missing)}")
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CFN_DELIVERY_ROOT", raising=False)
    monkeypatch.setenv("CFN_DELIVERY_MODEL", str(unprotected_model))
    for key, value in aws_env(server.endpoint_url).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    # protected environments (tools) set a stack policy; LocalStack does not emulate SetStackPolicy
    monkeypatch.setattr(protect, "set_policy", lambda cfn, stack_name, policy: None)
    argv = ["deploy", "--env", env, "--stack", name, "--yes", "--endpoint-url", server.endpoint_url,
            "--poll-seconds", "0.5"]
    code = cli.main(argv)
    captured = capsys.readouterr()
    if code != 0:
        outcome[(env, name)] = "failed"
        for text, why in LOCALSTACK_LIMITS:
            if text in captured.err:
                exact = next(line.strip() for line in captured.err.splitlines() if text in line)
                pytest.xfail(f"{env}:{name}: {why}: {exact}")
        pytest.fail(f"{env}:{name} did not deploy (exit {code}):\n{captured.out}\n{captured.err}", pytrace=False)
    assert "CREATE_COMPLETE" in captured.out, captured.out
    outcome[(env, name)] = "deployed"
    # The same deploy again changes nothing: it must cost a few reads and create no change set (issue 12).
    with ApiCalls() as calls:
        code = cli.main(argv)
    again = capsys.readouterr()
    assert code == 0, again.err
    assert calls.change_sets == 0, (dict(calls.calls), again.out)
    assert not any(op.split(":")[1].startswith(("Create", "Update", "Delete", "Execute", "Put", "Set"))
                   for op in calls.calls), dict(calls.calls)
    assert "no changes" in again.out, again.out
