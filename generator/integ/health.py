"""Health of the deployed targets, found from the target stacks' outputs (never from names).

- Elastic Beanstalk (a stack with an ``AWS::ElasticBeanstalk::Environment`` and an
  ``EnvironmentName`` output): DescribeEnvironments says ``Ready`` and ``Green``; the
  targets of its load balancer (DescribeEnvironmentResources) are healthy.
- Amazon ECS (``ClusterName`` and ``ServiceName`` outputs): DescribeServices shows
  ``runningCount == desiredCount`` and no deployment whose rollout ``FAILED``; the target
  groups of the service, its task sets and the stack are healthy.
- Target groups: DescribeTargetHealth; every registered target ``healthy`` and at least one
  target in the groups that serve traffic.

Each check polls until it passes or ``timeout_seconds`` pass (a deployment settles for a
while after the pipeline's deploy action ends), then raises ``Unhealthy`` with the reason.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
BEANSTALK_ENVIRONMENT = "AWS::ElasticBeanstalk::Environment"


class Unhealthy(Exception):
    pass


@dataclass
class Target:
    """A deployed target stack: what the health checks need from it."""
    key: str                      # env:stack
    stack_name: str
    kind: str                     # "beanstalk" | "ecs"
    outputs: dict
    target_groups: list = field(default_factory=list)   # ARNs of the stack's target groups

    def matches(self, values, shared=()) -> bool:
        """Whether a pipeline deploy action's configuration names this target: one of its values is an
        output value of this target that no other target has (``shared``: values several targets output,
        such as a container name or a VPC id, which identify nothing)."""
        mine = {str(v) for v in self.outputs.values() if v} - set(shared)
        return any(str(v) in mine for v in values)


def shared_values(targets) -> set:
    """Output values that more than one target has."""
    seen, shared = set(), set()
    for target in targets:
        values = {str(v) for v in target.outputs.values() if v}
        shared |= seen & values
        seen |= values
    return shared


def classify(key, stack_name, outputs, resource_types, target_groups=()) -> Target:
    """A ``Target`` for a stack that runs an application, else ``None``."""
    if BEANSTALK_ENVIRONMENT in resource_types and outputs.get("EnvironmentName"):
        return Target(key, stack_name, "beanstalk", dict(outputs), list(target_groups))
    if outputs.get("ClusterName") and outputs.get("ServiceName"):
        return Target(key, stack_name, "ecs", dict(outputs), list(target_groups))
    return None


class Checker:
    def __init__(self, clients, timeout_seconds=600.0, poll_seconds=15.0, clock=time.monotonic, sleep=time.sleep):
        self.clients = clients
        self.timeout = timeout_seconds
        self.poll = poll_seconds
        self.clock = clock
        self.sleep = sleep

    def check(self, target: Target) -> str:
        """A one-line summary when healthy; ``Unhealthy`` after the timeout otherwise."""
        probe = self.beanstalk if target.kind == "beanstalk" else self.ecs
        deadline = self.clock() + self.timeout
        while True:
            try:
                return probe(target)
            except Unhealthy:
                if self.clock() >= deadline:
                    raise
            self.sleep(self.poll)

    # -- Elastic Beanstalk -------------------------------------------------------
    def beanstalk(self, target: Target) -> str:
        eb = self.clients.get("elasticbeanstalk")
        name = target.outputs["EnvironmentName"]
        envs = eb.describe_environments(EnvironmentNames=[name], IncludeDeleted=False).get("Environments", [])
        if not envs:
            raise Unhealthy(f"Beanstalk environment {name} not found")
        env = envs[0]
        status, health = env.get("Status"), env.get("Health")
        if status != "Ready" or health != "Green":
            raise Unhealthy(f"Beanstalk environment {name} is {status}/{health}"
                            + (f" ({env['HealthStatus']})" if env.get("HealthStatus") else ""))
        groups = list(target.target_groups)
        resources = eb.describe_environment_resources(EnvironmentName=name).get("EnvironmentResources", {})
        elbv2 = None
        for lb in resources.get("LoadBalancers", []):
            arn = lb.get("Name", "")
            if arn.startswith("arn:"):
                elbv2 = elbv2 or self.clients.get("elasticloadbalancingv2")
                groups += [g["TargetGroupArn"] for g in
                           elbv2.describe_target_groups(LoadBalancerArn=arn).get("TargetGroups", [])]
        summary = self.target_groups(groups) if groups else "no target groups"
        return f"Beanstalk {name} Ready/Green; {summary}"

    # -- Amazon ECS --------------------------------------------------------------
    def ecs(self, target: Target) -> str:
        ecs = self.clients.get("ecs")
        cluster, service = target.outputs["ClusterName"], target.outputs["ServiceName"]
        answer = ecs.describe_services(cluster=cluster, services=[service])
        if answer.get("failures"):
            failure = answer["failures"][0]
            raise Unhealthy(f"ECS service {service}: {failure.get('reason')} {failure.get('detail', '')}".strip())
        svc = answer["services"][0]
        running, desired = svc.get("runningCount", 0), svc.get("desiredCount", 0)
        failed = [d for d in svc.get("deployments", []) if d.get("rolloutState") == "FAILED"]
        if failed:
            raise Unhealthy(f"ECS service {service}: deployment {failed[0].get('id')} FAILED: "
                            f"{failed[0].get('rolloutStateReason', 'no reason given')}")
        if svc.get("status") != "ACTIVE" or desired == 0 or running != desired:
            raise Unhealthy(f"ECS service {service}: {svc.get('status')}, running {running} of desired {desired}")
        groups = [lb["targetGroupArn"] for lb in svc.get("loadBalancers", []) if lb.get("targetGroupArn")]
        for task_set in svc.get("taskSets", []):
            groups += [lb["targetGroupArn"] for lb in task_set.get("loadBalancers", []) if lb.get("targetGroupArn")]
        groups += target.target_groups
        summary = self.target_groups(groups) if groups else "no target groups"
        return f"ECS {service} running {running}/{desired}; {summary}"

    # -- Elastic Load Balancing ----------------------------------------------------
    def target_groups(self, arns) -> str:
        """Every registered target healthy, and at least one healthy target overall (blue/green
        keeps one group empty between deployments)."""
        elbv2 = self.clients.get("elasticloadbalancingv2")
        healthy = 0
        for arn in dict.fromkeys(arns):
            descriptions = elbv2.describe_target_health(TargetGroupArn=arn).get("TargetHealthDescriptions", [])
            for d in descriptions:
                state = d.get("TargetHealth", {})
                if state.get("State") == "healthy":
                    healthy += 1
                elif state.get("State") not in ("draining", "unused"):
                    target = d.get("Target", {})
                    raise Unhealthy(f"target {target.get('Id')}:{target.get('Port')} of {arn.split(':')[-1]} is "
                                    f"{state.get('State')} ({state.get('Reason', '')}: {state.get('Description', '')})")
        if healthy == 0:
            raise Unhealthy(f"no healthy target in {len(set(arns))} target group(s)")
        return f"{healthy} healthy target(s)"
