"""Lambda delivery (tools): ``<app>-build`` (package the function once, unit tests and the source
syntax check), ``<app>-validation-<wave>`` (invoke the wave's ``live`` alias after its deploy),
``<app>-pipeline-roles`` (the roles, and the deploy actions' log group their grants name) and
``<app>-pipeline``: build, test ‖ security scan, then per wave a deploy by CodePipeline's ``Lambda``
action, which publishes the built package as a new version and shifts the ``live`` alias to it (all at
once, canary or linear: the wave's ``DeployStrategy<Wave>`` parameter), watching the function's alarms;
an alarm in ALARM fails the action and the alias goes back to the version it pointed at
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-LambdaDeploy.html). Why this
action and not a CodeDeploy deployment group: docs/lambda.md. After the deploy, the smoke test and the
recorder (``<app>-recorder``: the version the alias points at, in the history table) run in the same stage,
and the stage has the conditions of every kind on the function's alarms (:meth:`LambdaPipelineStack.wave_alarms`).

Each wave's deploy role holds exactly what the action needs on that environment's function, versions,
alias and alarms (``FunctionReference.grant_deploy``), and the action's log group.
"""
from __future__ import annotations

import math
import re

from troposphere import Ref, Sub

from ..components import lambda_function as lambda_component, placement
from ..components.codebuild import LOCAL_CACHE, BuildProject, build_settings
from ..components.kms import KeyReference
from ..components.lambda_function import (ALIAS, FunctionReference, grant_action_logs, pipeline_action_log_group)
from ..components.logs import EncryptedLogGroup, LogGroupReference
from ..components.pipeline import pipeline_name
from ..core import naming
from ..core.stack import LOG_RETENTION_DAYS
from . import foundation, lambda_function
from .delivery import BUILD_OUTPUT, DeliveryBuildStack, DeliveryPipelineStack, DeliveryValidationStack, Target, waves

#: CodePipeline's Lambda deploy strategies: AllAtOnce, Canary<percent>Percent<minutes>Minutes,
#: Linear<percent>PercentEvery<minutes>Minutes (the action reference's accepted formats; "the values for
#: both percentage and minutes can be changed", at most 2 days in all).
DEPLOY_STRATEGY_PATTERN = (r"^(AllAtOnce|Canary([1-9]|[1-9][0-9])Percent[1-9][0-9]{0,3}Minutes?"
                           r"|Linear([1-9]|[1-9][0-9])PercentEvery[1-9][0-9]{0,3}Minutes?)$")
#: The action's limit on a strategy: "The maximum total wait time is 2 days" (action reference, DeployStrategy:
#: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-LambdaDeploy.html). The pattern
#: admits up to 9999 minutes per step, so a strategy it accepts can still exceed this (strategy_problem).
MAX_DEPLOY_STRATEGY_MINUTES = 2 * 24 * 60
DEFAULT_DEPLOY_STRATEGY = "Canary10Percent5Minutes"
#: The pipeline stack's parameter of a wave's strategy: ``DeployStrategy<Wave>``.
DEPLOY_STRATEGY_PARAMETER = "DeployStrategy"
_STRATEGY_STEPS = re.compile(r"^(?:Canary(?P<canary>\d+)Percent(?P<wait>\d+)Minutes?"
                             r"|Linear(?P<linear>\d+)PercentEvery(?P<every>\d+)Minutes?)$")


def strategy_minutes(strategy: str):
    """The total wait of ``strategy`` in minutes, ``None`` for a value that is not a strategy.

    ``AllAtOnce`` waits 0. ``Canary<P>Percent<M>Minutes`` shifts P percent, waits M minutes, then shifts the
    rest: M. ``Linear<P>PercentEvery<M>Minutes`` shifts P percent every M minutes until all traffic is shifted:
    ceil(100/P) shifts, the first at once, so M * (ceil(100/P) - 1) (Linear10PercentEvery1Minute: 9), as
    CodeDeploy's linear configurations run: P percent "at the start of each increment", "an equal number of
    minutes between each increment"
    (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TimeBasedLinear.html; the action
    reference gives no formula of its own)."""
    if strategy == "AllAtOnce":
        return 0
    match = _STRATEGY_STEPS.match(str(strategy))
    if match is None:
        return None
    if match["canary"] is not None:
        return int(match["wait"])
    percent = int(match["linear"])
    return int(match["every"]) * (math.ceil(100 / percent) - 1) if percent > 0 else None


def strategy_problem(strategy: str):
    """Why the Lambda deploy action refuses ``strategy`` (its total wait is over the limit), else ``None``;
    a value the pattern refuses is the parameter constraint's to report."""
    minutes = strategy_minutes(strategy)
    if minutes is None or minutes <= MAX_DEPLOY_STRATEGY_MINUTES:
        return None
    return (f"'{strategy}' waits {minutes} minutes in all, over the {MAX_DEPLOY_STRATEGY_MINUTES} minutes (2 days) "
            f"the Lambda deploy action allows; use fewer minutes per step or, for Linear, a larger percent")
#: The newest ECMAScript edition the function's source may use: Node.js 14 runs ES2020.
NODE14_ECMA_VERSION = 2020


def function_exports(delivery):
    """The exports of the application's ``<app>-function`` stacks (the delivery's target stack)."""
    return lambda_function.EXPORTS.for_stack(delivery.target_stack)


class LambdaBuildStack(DeliveryBuildStack):
    name = "lambda-build"
    description = "Lambda delivery projects: package the function, unit tests and the source syntax check"
    check_actions = (("Test", "TestProject", ["Source"]),)

    def create_parameters(self):
        self.ecma_version = self.parameter(
            "SourceEcmaVersion", "Checks", "Newest ECMAScript edition in the source",
            Type="Number", Default=NODE14_ECMA_VERSION, MinValue=2015, MaxValue=2026,
            Description="The test fails on JavaScript syntax newer than this edition; 2020 is what Node.js 14 "
                        "runs, so the code runs unchanged there and on the deployed runtime",
        )

    def create_projects(self):
        common = self.common
        self.build_project = BuildProject(
            self, "BuildProject", f"{self.component}-build", "function-build.yml",
            description="Package the function (the zip every wave deploys)", environment=[("APP_DIR", ".")],
            cache=LOCAL_CACHE, **common,
        )
        self.checks = [
            ("Test", BuildProject(
                self, "TestProject", f"{self.component}-test", "function-test.yml",
                description="Unit tests and the ECMAScript edition check (JUnit report)", report="junit",
                environment=[("APP_DIR", "."), ("ECMA_VERSION", Ref(self.ecma_version))],
                writes_artifacts=False, cache=LOCAL_CACHE, **common,
            ), "Source"),
        ]


def deploy_action_log_group(model, component: str) -> LogGroupReference:
    """The log group of pipeline ``component``'s Lambda deploy actions as a stack outside tools names it (the
    tools pipeline's name, ``components.pipeline.pipeline_name``; ``component`` may be ``*``), in that stack's
    Region: ``pipeline_action_log_group``'s name with the pipeline's name as text."""
    return LogGroupReference(Sub("/${AWS::Region}/codepipeline/" + pipeline_name(component, model.tools)))


class LambdaValidationStack(DeliveryValidationStack):
    """``<app>-validation-<wave>``: a project that invokes the wave's ``live`` alias with a smoke event
    after the deploy and fails on a function error or a non-2xx ``statusCode`` (``wave``: its
    environment; the registry makes one per wave). Lambda is called through its API, so the project
    needs no VPC.

    A wave in another account or Region: this stack is deployed in the wave's environment (the registry,
    as for every kind), reads the function there, its input artifacts from the tools store or the Region's
    (``artifact_source``), and holds the log group the wave's deploy action writes to in that account and
    Region (``/<region>/codepipeline/<pipeline>``, created encrypted and expiring before the action would
    create it with neither)."""

    name = "lambda-validation"
    description = "Lambda delivery: invoke the wave's live alias after its deploy"
    buildspec = "function-smoke.yml"

    def create(self):
        self.build = build_settings(self)
        key = KeyReference(foundation.EXPORTS.key_arn.imported())
        exports = function_exports(self.delivery)
        targets = [t for t in waves(self.model, self.app) if t.env == self.wave]
        if not targets:
            raise ValueError(f"{self.name}: '{self.wave}' is not a wave of application '{self.app.name}'")
        for target in targets:
            away = placement.placement(self.model, target.env).away
            imported = (lambda export: export.imported()) if away else (lambda export: export.imported(target.env))
            logical_id = self.delivery.validation_project_id(target)
            function = FunctionReference(imported(exports.function_name))
            project = BuildProject(
                self, logical_id, f"{self.component}-check-{target.slug}", self.buildspec,
                description=f"Invoke the {target.label.lower()} live alias with the smoke event", report="smoke",
                cache=LOCAL_CACHE, writes_artifacts=False, settings=self.build, key=key,
                artifact_bucket=self.artifact_source(target.env),
                environment=[("FUNCTION_NAME", function.name), ("FUNCTION_ALIAS", imported(exports.alias_name))],
            )
            project.role.grant(function.grant_invoke_alias())
            self.export(self.delivery.project_export(logical_id, self.name), project.name)
            if away:
                retention = self.parameter(
                    "LogRetentionDays", "Logging", "Deploy action log retention (days)",
                    Type="Number", Default=90, AllowedValues=LOG_RETENTION_DAYS,
                    Description="Days CloudWatch Logs keeps the wave's Lambda deploy action logs",
                )
                EncryptedLogGroup(self, "DeployActionLogs",
                                  deploy_action_log_group(self.model, self.component).name, key, Ref(retention))


class LambdaPipelineStack(DeliveryPipelineStack):
    name = "lambda-pipeline"
    description = "Lambda delivery pipeline: build, test and scan, then per wave a traffic-shifting deploy rolled back on alarm"
    build_class = LambdaBuildStack

    def create_parameters(self):
        super().create_parameters()
        self.strategies = {}
        for target in waves(self.model, self.app):
            self.strategies[target] = self.pipeline_parameter(
                f"{DEPLOY_STRATEGY_PARAMETER}{target.label}", "Deploy", f"Traffic shifting in {target.env}",
                Type="String", Default=DEFAULT_DEPLOY_STRATEGY, AllowedPattern=DEPLOY_STRATEGY_PATTERN,
                ConstraintDescription="AllAtOnce, Canary<percent>Percent<minutes>Minutes or "
                                      "Linear<percent>PercentEvery<minutes>Minutes (such as Linear10PercentEvery1Minute)",
                Description=f"How the {target.env} deploy shifts the live alias to the new version; the function's "
                            "alarms roll it back",
            )

    @classmethod
    def parameter_problems(cls, name: str, value: str) -> list:
        """What the template's constraints cannot say about a value of ``name`` (``paramgen`` reports it at
        the model key, ``deploy`` at the parameter file): a strategy over the action's total wait."""
        problem = strategy_problem(value) if name.startswith(DEPLOY_STRATEGY_PARAMETER) else None
        return [problem] if problem else []

    def create_deploy_roles(self):
        # The deploy action logs to /<region>/codepipeline/<pipeline>; created (encrypted, expiring: the
        # action would create it without either) in the roles stack, with the deploy roles its grants serve.
        # A wave in another account or Region logs there (its validation stack creates the group): with no
        # wave here, no group here.
        if all(placement.placement(self.model, t.env).away for t in self.targets):
            self.action_logs = None
        elif self.part == "pipeline":
            self.action_logs = pipeline_action_log_group(self.pipeline.name)
        else:
            self.log_retention = self.parameter(
                "LogRetentionDays", "Logging", "Deploy action log retention (days)",
                Type="Number", Default=90, AllowedValues=LOG_RETENTION_DAYS,
                Description="Days CloudWatch Logs keeps the Lambda deploy actions' logs",
            )
            self.action_logs = EncryptedLogGroup(self, "DeployActionLogs",
                                                 pipeline_action_log_group(self.pipeline.name).name, self.key,
                                                 Ref(self.log_retention))
        super().create_deploy_roles()

    def function(self, target: Target) -> FunctionReference:
        return FunctionReference(function_exports(self.delivery).function_name.imported(target.env))

    def deploy_grants(self, target: Target):
        alarms = [export.imported(target.env) for export in lambda_function.alarm_arns(function_exports(self.delivery))]
        return [self.function(target).grant_deploy(alarms), grant_action_logs(self.action_logs)]

    supports_away = True

    @classmethod
    def away_deploy_grants(cls, env: str, application: str) -> list:
        """In the wave's account, by physical names: the function, its versions and alias, its alarms, and the
        action's log group there (``LambdaValidationStack`` creates it)."""
        function = FunctionReference(Sub(lambda_component.function_name(application, env)))
        alarms = [naming.arn("cloudwatch", "alarm:" + name) for name in lambda_function.alarm_names(application, env)]
        return [function.grant_deploy(alarms),
                grant_action_logs(deploy_action_log_group(cls.model, application))]

    def wave_alarms(self, target: Target) -> list:
        """The function's own alarms in ``target``'s environment (``<app>-function`` owns and exports them):
        the stage conditions every kind gets (``DeliveryPipelineStack.create_target_stages``: a protected wave
        entered only while the previous wave's are not in ALARM, a bake time on the wave's own) watch the same
        alarms the deploy action watches during the shift."""
        if self.away(target):  # in the wave's account or Region, read under its deploy role (rule_placement)
            return [(key, Sub(name), None)
                    for key, name in zip(lambda_function.ALARM_KEYS, lambda_function.alarm_names(self.app.name, target.env))]
        return [(key, name.imported(target.env), arn.imported(target.env))
                for key, name, arn in lambda_function.alarms(function_exports(self.delivery))]

    def deploy_action(self, target: Target, role):
        exports = function_exports(self.delivery)
        if self.away(target):  # exports do not cross accounts or Regions: the function stack's names
            function, alias = Sub(lambda_function.function_name(self.app, target.env)), ALIAS
            alarms = Sub(",".join(lambda_function.alarm_names(self.app.name, target.env)))
        else:
            function, alias = exports.function_name.imported(target.env), exports.alias_name.imported(target.env)
            alarms = exports.alarm_names.imported(target.env)
        return self.pipeline.action(
            "Deploy", "Deploy", "Lambda", {
                "FunctionName": function,
                "FunctionAlias": alias,
                "DeployStrategy": Ref(self.strategies[target]),
                "Alarms": alarms,
            },
            inputs=[BUILD_OUTPUT], role_arn=role.arn, namespace=f"Deploy{target.label}",
        )

    def target_url(self, target: Target):
        """The approval links to the function's alias in the Lambda console of the wave before."""
        return Sub("https://${AWS::Region}.console.aws.amazon.com/lambda/home?region=${AWS::Region}"
                   "#/functions/${Name}/aliases/${Alias}",
                   Name=function_exports(self.delivery).function_name.imported(target.env),
                   Alias=function_exports(self.delivery).alias_name.imported(target.env))
