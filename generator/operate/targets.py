"""Per application kind: what runs now (read from the target itself), whether a recorded version can still
be deployed, and the one call that switches to it. Names come from the target stack's outputs (its
``EXPORTS`` declarations); none of these calls touches a CloudFormation stack (docs/rollback.md says what
that means for the next pipeline run and stack deploy)."""
from __future__ import annotations

import hashlib
import json

from ..deploy.errors import DeployError, Refused
from . import place as places


def short(version: str) -> str:
    """A task definition ARN as ``family:revision`` (what the console and ``--to`` show); others unchanged."""
    return version.rsplit("task-definition/", 1)[-1] if ":task-definition/" in version else version


def same(version: str, wanted: str) -> bool:
    """``wanted`` names ``version`` (an ECS one also by ``family:revision``)."""
    return version == wanted or short(version) == wanted


class Release:
    """One kind's target. Subclasses: ``current``, ``check``, ``start``."""

    kind = ""
    noun = ""  # what the operator types in a protected environment

    def __init__(self, clients, stack_name: str, values: dict, exports, region: str):
        self.clients, self.stack_name, self.exports, self.region = clients, stack_name, exports, region
        self.values = values

    def value(self, attr: str) -> str:
        return places.output(self.values, getattr(self.exports, attr), self.stack_name)

    @property
    def name(self) -> str:  # the physical name the operator types to confirm
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def current(self) -> str:
        raise NotImplementedError

    def notes(self) -> list:
        """Lines about the live state worth knowing before switching (read by ``current``)."""
        return []

    def check(self, version: str) -> None:
        """Refuse (exit 3) a version that can no longer be deployed."""

    def start(self, version: str) -> list:
        """Switch to ``version``: the lines saying what started and how to follow it."""
        raise NotImplementedError

    def _region(self) -> str:
        """`` --region <r>`` for the follow-up commands (nothing when only "the default region" is known)."""
        return f" --region {self.region}" if self.region and " " not in self.region else ""


class Beanstalk(Release):
    kind = "beanstalk"
    noun = "Beanstalk environment name"

    def __init__(self, *args):
        super().__init__(*args)
        self.environment = self.value("environment_name")
        self.application = None

    @property
    def name(self):
        return self.environment

    def describe(self):
        return f"Elastic Beanstalk environment {self.environment}"

    def current(self):
        found = self.clients.get("elasticbeanstalk").describe_environments(
            EnvironmentNames=[self.environment], IncludeDeleted=False).get("Environments", [])
        if not found:
            raise DeployError(f"Elastic Beanstalk environment {self.environment} (output of {self.stack_name}) "
                              f"does not exist")
        env = found[0]
        self.application = env["ApplicationName"]
        if env.get("Status") != "Ready":  # UpdateEnvironment is refused while another update runs
            raise Refused(f"{self.environment} is {env.get('Status')}, not Ready: wait for its current operation "
                          f"(aws elasticbeanstalk describe-events --environment-name {self.environment}"
                          f"{self._region()}), then roll back")
        return env.get("VersionLabel", "")

    def check(self, version):
        # The application keeps only its newest versions (VersionsKept): an old label may be gone.
        found = self.clients.get("elasticbeanstalk").describe_application_versions(
            ApplicationName=self.application, VersionLabels=[version]).get("ApplicationVersions", [])
        if not found:
            raise Refused(f"application version {version} of {self.application} no longer exists (the application "
                          f"keeps its newest VersionsKept versions); nothing was changed; pick another with --to")

    def start(self, version):
        # https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateEnvironment.html
        self.clients.get("elasticbeanstalk").update_environment(EnvironmentName=self.environment,
                                                                 VersionLabel=version)
        return [f"started: {self.environment} is deploying application version {version} (its deployment "
                f"policy applies)",
                f"  follow: aws elasticbeanstalk describe-events --environment-name {self.environment}{self._region()}",
                f"  wait:   aws elasticbeanstalk wait environment-updated --environment-names {self.environment}"
                f"{self._region()}"]


class EcsService(Release):
    """The ECS service of either ECS kind."""

    noun = "ECS service name"

    def __init__(self, *args):
        super().__init__(*args)
        self.cluster, self.service = self.value("cluster_name"), self.value("service_name")
        self.live = None

    @property
    def name(self):
        return self.service

    def describe(self):
        return f"ECS service {self.service} (cluster {self.cluster})"

    def _service(self):
        found = self.clients.get("ecs").describe_services(cluster=self.cluster, services=[self.service])
        services = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            raise DeployError(f"ECS service {self.service} (cluster {self.cluster}, output of {self.stack_name}) "
                              f"is not active")
        return services[0]

    def current(self):
        self.live = self._service()
        primary = [t for t in self.live.get("taskSets") or [] if t.get("status") == "PRIMARY"]
        return (primary[0] if primary else self.live).get("taskDefinition", "")

    def check(self, version):
        # An INACTIVE (deregistered) revision cannot be put back on a service:
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html
        definition = self.clients.get("ecs").describe_task_definition(taskDefinition=version)["taskDefinition"]
        if definition.get("status") != "ACTIVE":
            raise Refused(f"task definition {short(version)} is {definition.get('status')} (deregistered); ECS does "
                          f"not put a service back on it; nothing was changed; pick another with --to")


class EcsRolling(EcsService):
    kind = "ecs-rolling"

    def start(self, version):
        # A new service deployment with the service's own strategy (rolling or ECS blue/green):
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
        answer = self.clients.get("ecs").update_service(cluster=self.cluster, service=self.service,
                                                         taskDefinition=version)
        deployment = next((d.get("id") for d in answer.get("service", {}).get("deployments", [])
                           if d.get("status") == "PRIMARY"), None)
        return [f"started: {self.service} is deploying {short(version)}"
                + (f" (deployment {deployment})" if deployment else ""),
                f"  follow: aws ecs describe-services --cluster {self.cluster} --services {self.service}"
                f"{self._region()} --query 'services[0].deployments'",
                f"  wait:   aws ecs wait services-stable --cluster {self.cluster} --services {self.service}"
                f"{self._region()}"]


class EcsBlueGreen(EcsService):
    kind = "ecs-bluegreen"

    def __init__(self, *args):
        super().__init__(*args)
        self.application, self.group = self.value("application_name"), self.value("deployment_group_name")

    def describe(self):
        return f"{super().describe()}, CodeDeploy {self.application}/{self.group}"

    def _container(self):
        """The container and port the service's load balancer sends traffic to (the primary task set's,
        else the service's)."""
        primary = [t for t in self.live.get("taskSets") or [] if t.get("status") == "PRIMARY"]
        balancers = (primary[0].get("loadBalancers") if primary else None) or self.live.get("loadBalancers") or []
        if not balancers:
            raise DeployError(f"ECS service {self.service} has no load balancer: CodeDeploy blue/green needs one")
        return balancers[0]["containerName"], int(balancers[0]["containerPort"])

    def appspec(self, version) -> dict:
        """The AppSpec of an ECS deployment: the task definition and the load balancer's container and port
        https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html"""
        container, port = self._container()
        content = json.dumps({"version": 0.0, "Resources": [{"TargetService": {
            "Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": version,
                "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}}}}]}, sort_keys=True)
        return {"revisionType": "AppSpecContent",
                "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}}

    def start(self, version):
        # The deployment group's own traffic shifting, alarms and automatic rollback apply:
        # https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html
        answer = self.clients.get("codedeploy").create_deployment(
            applicationName=self.application, deploymentGroupName=self.group, revision=self.appspec(version),
            description=f"cfn-delivery rollback to {short(version)}")
        deployment = answer["deploymentId"]
        return [f"started: CodeDeploy deployment {deployment} of {short(version)} to {self.service}",
                f"  follow: aws deploy get-deployment --deployment-id {deployment}{self._region()}",
                f"  wait:   aws deploy wait deployment-successful --deployment-id {deployment}{self._region()}"]


class LambdaAlias(Release):
    kind = "lambda"
    noun = "function name"

    def __init__(self, *args):
        super().__init__(*args)
        self.function, self.alias = self.value("function_name"), self.value("alias_name")
        self.weights = {}

    @property
    def name(self):
        return self.function

    def describe(self):
        return f"Lambda function {self.function}, alias {self.alias}"

    def current(self):
        alias = self.clients.get("lambda").get_alias(FunctionName=self.function, Name=self.alias)
        self.weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return alias["FunctionVersion"]

    def notes(self):
        return [f"traffic shift in progress: version {v} gets {w:.0%} of {self.alias}; the rollback ends it"
                for v, w in sorted(self.weights.items())]

    def check(self, version):
        from botocore.exceptions import ClientError

        try:
            self.clients.get("lambda").get_function_configuration(FunctionName=self.function, Qualifier=version)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            raise Refused(f"version {version} of {self.function} no longer exists; nothing was changed; pick another "
                          f"with --to") from err

    def start(self, version):
        # An empty AdditionalVersionWeights ends a weighted shift: every invocation gets ``version``
        # https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html
        self.clients.get("lambda").update_alias(FunctionName=self.function, Name=self.alias, FunctionVersion=version,
                                                RoutingConfig={"AdditionalVersionWeights": {}})
        return [f"done: alias {self.alias} of {self.function} points at version {version}; new invocations run it",
                f"  check:  aws lambda get-alias --function-name {self.function} --name {self.alias}{self._region()}"]


KINDS = {cls.kind: cls for cls in (Beanstalk, EcsRolling, EcsBlueGreen, LambdaAlias)}


def for_place(place, clients, region: str) -> Release:
    """The release handler of ``place``'s kind, with the names its target stack outputs."""
    stack_name, values = places.target_outputs(place, clients)
    return KINDS[place.kind](clients, stack_name, values, place.target_stack.EXPORTS, region)
