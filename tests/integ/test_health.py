"""Health checks of a wave (botocore Stubber): Elastic Beanstalk, Amazon ECS, target groups,
with the resources found from the target stacks' outputs."""
from __future__ import annotations

import pytest
from botocore.stub import Stubber

from generator.integ import health

from .conftest import offline_client, stubbed_clients

TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/demo-staging-blue/0123456789abcdef"
TG2 = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/demo-staging-green/fedcba9876543210"
LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/awseb-x/0123456789abcdef"


@pytest.fixture
def stubs():
    clients = {s: offline_client(s) for s in ("elasticbeanstalk", "ecs", "elbv2")}
    stubbers = {s: Stubber(c) for s, c in clients.items()}
    for s in stubbers.values():
        s.activate()
    yield stubbed_clients(("elasticbeanstalk", clients["elasticbeanstalk"]), ("ecs", clients["ecs"]),
                          ("elasticloadbalancingv2", clients["elbv2"])), stubbers
    for s in stubbers.values():
        s.assert_no_pending_responses()
        s.deactivate()


def checker(clients, clock, timeout=0):
    return health.Checker(clients, timeout_seconds=timeout, poll_seconds=30, clock=clock, sleep=clock.sleep)


def target_health(*states):
    return {"TargetHealthDescriptions": [
        {"Target": {"Id": f"10.0.0.{i}", "Port": 8080}, "TargetHealth": dict(State=s, **(
            {"Reason": "Target.ResponseCodeMismatch", "Description": "Health checks failed"} if s == "unhealthy" else {}))}
        for i, s in enumerate(states)]}


def beanstalk_target(**outputs):
    return health.classify("staging:web", "demo-staging-web", dict({"EnvironmentName": "demo-staging"}, **outputs),
                           {health.BEANSTALK_ENVIRONMENT, "AWS::IAM::Role"})


def ecs_target(groups=()):
    return health.classify("staging:svc", "demo-staging-svc",
                           {"ClusterName": "demo-staging", "ServiceName": "demo-staging-app", "ServiceUrl": "http://x"},
                           {"AWS::ECS::Service"}, groups)


def test_targets_are_recognised_from_outputs_and_resource_types():
    assert beanstalk_target().kind == "beanstalk"
    assert ecs_target().kind == "ecs"
    assert health.classify("tools:x", "demo-tools-x", {"EnvironmentName": "tools"}, {"AWS::S3::Bucket"}) is None
    # a pipeline deploy action names its target by an output value
    assert beanstalk_target().matches(["demo-app", "demo-staging"])
    assert not beanstalk_target().matches(["demo-prod"])
    # a value several targets output (a container name, a VPC id) identifies none of them
    staging, prod = ecs_target(), health.classify("prod:svc", "demo-prod-svc", {
        "ClusterName": "demo-prod", "ServiceName": "demo-prod-app", "ContainerName": "app"}, set())
    staging.outputs["ContainerName"] = "app"
    shared = health.shared_values([staging, prod])
    assert shared == {"app"}
    assert not staging.matches(["app", "imagedefinitions.json"], shared)
    assert prod.matches(["demo-prod", "demo-prod-app"], shared) and not staging.matches(["demo-prod"], shared)


def _environment(status="Ready", color="Green"):
    return {"Environments": [{"EnvironmentName": "demo-staging", "Status": status, "Health": color,
                              "HealthStatus": "Ok" if color == "Green" else "Severe"}]}


def test_beanstalk_green_with_healthy_targets(stubs, clock):
    clients, s = stubs
    s["elasticbeanstalk"].add_response("describe_environments", _environment(),
                                       {"EnvironmentNames": ["demo-staging"], "IncludeDeleted": False})
    s["elasticbeanstalk"].add_response("describe_environment_resources",
                                       {"EnvironmentResources": {"LoadBalancers": [{"Name": LB}]}},
                                       {"EnvironmentName": "demo-staging"})
    s["elbv2"].add_response("describe_target_groups", {"TargetGroups": [{"TargetGroupArn": TG}]},
                            {"LoadBalancerArn": LB})
    s["elbv2"].add_response("describe_target_health", target_health("healthy", "healthy"), {"TargetGroupArn": TG})
    summary = checker(clients, clock).check(beanstalk_target())
    assert "Ready/Green" in summary and "2 healthy" in summary


def test_beanstalk_red_fails_after_the_timeout_with_its_health(stubs, clock):
    clients, s = stubs
    for _ in range(3):
        s["elasticbeanstalk"].add_response("describe_environments", _environment("Ready", "Red"),
                                           {"EnvironmentNames": ["demo-staging"], "IncludeDeleted": False})
    with pytest.raises(health.Unhealthy, match=r"demo-staging is Ready/Red \(Severe\)"):
        checker(clients, clock, timeout=60).check(beanstalk_target())
    assert clock.sleeps == [30, 30]


def test_beanstalk_turns_green_while_waiting(stubs, clock):
    clients, s = stubs
    s["elasticbeanstalk"].add_response("describe_environments", _environment("Updating", "Grey"),
                                       {"EnvironmentNames": ["demo-staging"], "IncludeDeleted": False})
    s["elasticbeanstalk"].add_response("describe_environments", _environment(),
                                       {"EnvironmentNames": ["demo-staging"], "IncludeDeleted": False})
    s["elasticbeanstalk"].add_response("describe_environment_resources", {"EnvironmentResources": {}},
                                       {"EnvironmentName": "demo-staging"})
    assert "Ready/Green" in checker(clients, clock, timeout=300).check(beanstalk_target())


def _service(running=2, desired=2, deployments=None, load_balancers=True):
    svc = {"serviceName": "demo-staging-app", "status": "ACTIVE", "runningCount": running, "desiredCount": desired,
           "deployments": deployments or [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}]}
    if load_balancers:
        svc["loadBalancers"] = [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]
    return {"services": [svc], "failures": []}


def _describe(s, answer):
    s["ecs"].add_response("describe_services", answer, {"cluster": "demo-staging", "services": ["demo-staging-app"]})


def test_ecs_running_equals_desired_and_targets_healthy(stubs, clock):
    clients, s = stubs
    _describe(s, _service())
    s["elbv2"].add_response("describe_target_health", target_health("healthy", "healthy"), {"TargetGroupArn": TG})
    s["elbv2"].add_response("describe_target_health", target_health(), {"TargetGroupArn": TG2})  # idle green group
    summary = checker(clients, clock).check(ecs_target([TG, TG2]))   # TG from the service and the stack: once
    assert "running 2/2" in summary and "2 healthy" in summary


def test_ecs_running_below_desired_fails(stubs, clock):
    clients, s = stubs
    _describe(s, _service(running=1))
    with pytest.raises(health.Unhealthy, match="running 1 of desired 2"):
        checker(clients, clock).check(ecs_target())


def test_ecs_failed_deployment_fails_with_its_reason(stubs, clock):
    clients, s = stubs
    _describe(s, _service(deployments=[
        {"id": "ecs-svc/2", "status": "PRIMARY", "rolloutState": "FAILED",
         "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."},
        {"id": "ecs-svc/1", "status": "ACTIVE", "rolloutState": "COMPLETED"}]))
    with pytest.raises(health.Unhealthy, match="ecs-svc/2 FAILED: ECS deployment circuit breaker"):
        checker(clients, clock).check(ecs_target())


def test_ecs_missing_service_fails(stubs, clock):
    clients, s = stubs
    _describe(s, {"services": [], "failures": [{"arn": "arn:x", "reason": "MISSING"}]})
    with pytest.raises(health.Unhealthy, match="MISSING"):
        checker(clients, clock).check(ecs_target())


def test_an_unhealthy_target_fails_with_its_reason(stubs, clock):
    clients, s = stubs
    _describe(s, _service())
    s["elbv2"].add_response("describe_target_health", target_health("healthy", "unhealthy"), {"TargetGroupArn": TG})
    with pytest.raises(health.Unhealthy, match=r"10.0.0.1:8080 .* is unhealthy \(Target.ResponseCodeMismatch"):
        checker(clients, clock).check(ecs_target())


def test_no_healthy_target_at_all_fails(stubs, clock):
    clients, s = stubs
    _describe(s, _service())
    s["elbv2"].add_response("describe_target_health", target_health(), {"TargetGroupArn": TG})
    with pytest.raises(health.Unhealthy, match="no healthy target"):
        checker(clients, clock).check(ecs_target())
