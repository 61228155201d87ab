"""The shape every delivery pipeline shares, split along its natural seams into five stacks.

``<app>-store`` holds the pipeline's artifact store (``stacks.store``); ``<app>-build`` holds the
CodeBuild projects that build and check the release (the application build, the checks that run
in parallel) with their roles and log groups; ``<app>-validation-<wave>`` holds the validation
project of one wave, in its target's VPC (one stack per wave: a project with its role, policies,
log group, report group and inline buildspec is ~10 KB, so one stack for every wave crossed the
template budget at four waves); ``<app>-pipeline-roles`` holds the pipeline's IAM: its role, the
source trigger's role and one deploy role per wave with the managed policies they share;
``<app>-pipeline`` holds the pipeline, the source trigger and the stage conditions on the alarms of
the application's operations stack (``stacks/operations.py``: notifications, audit trail, alarms),
and runs the projects it imports from the build and validation stacks with the roles it imports. The roles
stack is the pipeline stack class built with ``part = "roles"``: it runs the same stages, so each
role holds exactly what the stages need (see ``components.pipeline``), and a wave adds ~1.5 KB of
stages to the pipeline stack instead of a role with its policies::

    Source → Build → (checks in parallel) → for each wave of the application (``waves`` in
    delivery.yaml): [Approve<Wave> when the wave's environment is protected] → Deploy<Wave>
    ([the target stacks' change sets, with ``infrastructure: pipeline``: ``components.infrastructure``]
    deploy, then the smoke test and the recorder; entered only while the previous wave's alarms are
    not in ALARM when protected; rolled back on failure or on an alarm during the bake time)

A :class:`Delivery` names one pipeline (its component and its stacks). A kind subclasses
:class:`DeliveryBuildStack` (``create_projects``: the build, the checks),
:class:`DeliveryValidationStack` (nothing to add) and :class:`DeliveryPipelineStack`
(``deploy_action``, ``deploy_grants``); the rest is here.

Gates cannot be bypassed from the source: every project's buildspec is rendered into the
build template from ``buildspecs/`` at generate time (see ``components.codebuild``), and each
pipeline writes to its own artifact store (``store.artifact_store``), which only its roles
may write. Validation runs inside the target's VPC (the target may be an internal load
balancer) and calls the URL the target exports, with TLS verification on.
"""
from __future__ import annotations

from dataclasses import dataclass

from awacs import cloudwatch as cloudwatch_actions, sts
from troposphere import Parameter, Ref, Sub

from ..components.codebuild import (BuildProject, LOCAL_CACHE, ProjectReference, VpcAccess, action_variables,
                                    build_settings)
from ..components.iam import allow
from ..components.inline_function import FunctionReference
from ..components.kms import KeyReference
from ..components import infrastructure, placement, sources
from ..components.pipeline import SOURCE, DeliveryPipeline, RoleReference
from ..core import naming
from ..core.exports import declare
from ..core.stack import Stack
from . import artifacts, foundation, scanners, store

BUILD_OUTPUT = "BuildOutput"
#: Thresholds of the source and dependency scan (``buildspecs/security-scan.yml``): findings at this
#: severity or worse block the release.
SCAN_SEVERITIES = ["critical", "high", "medium", "low"]


@dataclass(frozen=True)
class Target:
    """One wave of a pipeline: the environment ``env`` it deploys to (from the model), ``label`` in
    stage and logical names (``DeployStaging``), and whether an approval comes before it."""

    env: str
    protected: bool = False
    #: Minutes the wave's alarms are watched after its deploy before promotion (``bake_minutes``).
    bake_minutes: int = 0

    @property
    def label(self) -> str:
        return "".join(part.capitalize() for part in self.env.split("-"))

    @property
    def slug(self) -> str:
        return self.env


def waves(model, app) -> tuple:
    """The targets of ``app``'s pipeline, in promotion order (``waves`` in the model)."""
    return tuple(Target(env, model.environment(env).protected, model.environment(env).bake_minutes)
                 for env in app.waves)


#: What every deployment target stack exports so that the pipeline can validate it where it runs.
TARGET_EXPORT_KEYS = {
    "VpcId": "VPC of the target",
    "ValidationSubnetIds": "Private subnets (comma-joined) a validation client can run in",
    "ValidationSecurityGroupId": "Security group for validation clients, admitted by the load balancer",
    "ServiceUrl": "URL validation calls: https://<ServiceHostName> with a certificate, else the load balancer",
}


@dataclass(frozen=True)
class Delivery:
    """One pipeline: ``component`` prefixes every physical name of its stacks (pipeline
    ``{project}-{env}-{component}``, its roles ``{project}-{env}-{component}-*``)."""

    component: str
    build_stack: str
    validation_stack: str
    pipeline_stack: str
    roles_stack: str
    store_stack: str
    #: The stack (in each target environment) whose exports describe the deployment target.
    target_stack: str
    #: The stack (in each target environment) that exports the validation contract
    #: (``TARGET_EXPORT_KEYS``); the target stack unless the target splits off its ingress.
    endpoint_stack: str = None
    #: The stack (in each wave's environment) of the function that checks and records its deployments.
    recorder_stack: str = None

    def target_export(self, key: str):
        """An export every target stack declares (see ``TARGET_EXPORT_KEYS``)."""
        if key not in TARGET_EXPORT_KEYS:
            raise KeyError(f"{key} is not one of the target exports {', '.join(TARGET_EXPORT_KEYS)}")
        return declare(self.endpoint_stack or self.target_stack, key, TARGET_EXPORT_KEYS[key])

    def project_export(self, logical_id: str, stack: str = None):
        return declare(stack or self.build_stack, f"{logical_id}Name",
                       f"CodeBuild project {logical_id} of pipeline {self.component}")

    def project(self, logical_id: str, stack: str = None) -> ProjectReference:
        """A project of this delivery's build (or validation) stack, as the pipeline stack sees it."""
        return ProjectReference(self.project_export(logical_id, stack).imported())

    def role_export(self, logical_id: str):
        """The ARN of a role of the roles stack (``PipelineRole``, ``Deploy<Wave>Role``, ...)."""
        return declare(self.roles_stack, f"{logical_id}Arn", f"ARN of role {logical_id} of pipeline {self.component}")

    def artifact_store(self):
        return store.artifact_store(self.store_stack)

    def validation_stack_of(self, target) -> str:
        """The stack holding ``target``'s validation project."""
        return f"{self.validation_stack}-{target.slug}"

    @staticmethod
    def validation_project_id(target) -> str:
        return f"Validate{target.label}Project"

    @property
    def recorder_component(self) -> str:
        """The recorder function and its role are ``{project}-{env}-<this>`` in each wave's environment."""
        return f"{self.component}-record"

    def recorder_arn(self, env: str = "*"):
        """The recorder of wave ``env``; ``*``: every wave's (one grant, components are prefix-free)."""
        return naming.arn("lambda", "function:${ProjectName}-%s-%s" % (env, self.recorder_component))

    def validation_project_name(self, target) -> Sub:
        """The physical name of ``target``'s validation project (``BuildProject``: ``{project}-{env}-<component>``),
        for a wave in another account or Region whose stack the pipeline cannot import from."""
        return Sub("${ProjectName}-%s-%s-check-%s" % (target.env, self.component, target.slug))

    def recorder_name(self, env: str) -> Sub:
        """The recorder function of wave ``env`` by its physical name (``InlineFunction``)."""
        return Sub("${ProjectName}-%s-%s" % (env, self.recorder_component))

    def recorder_export(self):
        return declare(self.recorder_stack, "RecorderFunctionName",
                       f"Function checking the target after a deploy of pipeline {self.component} and recording it")


class DeliveryBuildStack(Stack):
    """``<kind>-build`` (tools): the projects of one pipeline. Subclasses set ``delivery``,
    ``check_actions`` and implement :meth:`create_projects` (set ``self.build_project`` and
    ``self.checks``, with the logical ids declared here, which the pipeline stack imports).
    The security scans are not here: every pipeline runs the shared ``scanners`` projects."""

    delivery: Delivery = None
    build_project_id = "BuildProject"
    #: ``(action name, project logical id, input artifacts)`` of the checks, run in parallel.
    check_actions = ()
    @property
    def component(self):
        return self.delivery.component

    def create(self):
        self.targets = waves(self.model, self.app)
        self.build = build_settings(self)
        self.create_parameters()
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.artifact_bucket = self.delivery.artifact_store()
        self.common = dict(settings=self.build, key=self.key, artifact_bucket=self.artifact_bucket)
        self.checks = []
        self.create_projects()
        self.create_outputs()

    # -- hooks ---------------------------------------------------------------
    def create_parameters(self):
        """Kind-specific parameters (none by default)."""

    def create_projects(self):  # pragma: no cover - abstract
        """Set ``self.build_project`` and ``self.checks`` ``[(action, project, input or [inputs])]``."""
        raise NotImplementedError

    def projects(self) -> dict:
        """Every project by logical id (what the pipeline stack imports)."""
        found = {self.build_project.logical_id: self.build_project}
        found.update({project.logical_id: project for _, project, _ in self.checks})
        return found

    def create_outputs(self):
        declared = [self.build_project_id] + [logical_id for _, logical_id, _ in self.check_actions]
        built = [self.build_project.logical_id] + [project.logical_id for _, project, _ in self.checks]
        if declared != built:
            raise ValueError(f"{self.name}: projects {built} differ from the declared build_project_id/check_actions "
                             f"{declared} the pipeline stack imports")
        for logical_id, project in self.projects().items():
            self.export(self.delivery.project_export(logical_id), project.name)


class DeliveryValidationStack(Stack):
    """``<kind>-validation-<wave>`` (tools): the validation project of one wave (``wave``: its
    environment), inside the target's VPC (the target may be an internal load balancer), calling
    the URL the target exports with TLS verification on. The registry makes one per wave."""

    delivery: Delivery = None
    buildspec = "smoke-test.yml"
    wave: str = None

    @property
    def component(self):
        return self.delivery.component

    @classmethod
    def model_values(cls, env: str) -> dict:
        from .bootstrap import tools_values  # ToolsAccountId / ToolsRegion of a stack in the wave's account

        return tools_values(cls.model)

    def create(self):
        self.targets = [t for t in waves(self.model, self.app) if t.env == self.wave]
        if not self.targets:
            raise ValueError(f"{self.name}: '{self.wave}' is not a wave of application '{self.app.name}'")
        self.health_path = self.parameter(
            "HealthCheckPath", "Targets", "Health check path",
            Type="String", Default="/health", AllowedPattern=r"^/[A-Za-z0-9/._-]*$",
            ConstraintDescription="a URL path starting with /",
            Description="Path the validation requests on the target",
        )
        self.build = build_settings(self)
        key = KeyReference(foundation.EXPORTS.key_arn.imported())
        value = self.delivery.target_export
        for target in self.targets:
            env = target.env
            # A wave in another account or Region: this stack is deployed there (a project runs in a VPC of
            # its own account and Region), reading the input artifacts the pipeline hands it from the tools
            # store (another account: its bucket and key policies name this project's role) or from the
            # Region's store (regional_store).
            away = placement.placement(self.model, env).away
            imported = (lambda export: export.imported()) if away else (lambda export: export.imported(env))
            vpc = VpcAccess(imported(value("VpcId")), imported(value("ValidationSubnetIds")),
                            imported(value("ValidationSecurityGroupId")))
            logical_id = self.delivery.validation_project_id(target)
            project = BuildProject(
                self, logical_id, f"{self.component}-check-{target.slug}", self.buildspec,
                description=f"Validate the {target.label.lower()} target as deployed", report="smoke",
                cache=LOCAL_CACHE, writes_artifacts=False, vpc=vpc, settings=self.build, key=key,
                artifact_bucket=self.artifact_source(env),
                environment=[("TARGET_URL", imported(value("ServiceUrl"))), ("HEALTH_PATH", Ref(self.health_path))],
            )
            self.export(self.delivery.project_export(logical_id, self.name), project.name)

    def artifact_source(self, env):
        """Where the smoke test's input artifact is: the wave Region's store, the tools store of another
        account, or (same account and Region) the pipeline's store."""
        where = placement.placement(self.model, env)
        if where.cross_region:
            from . import regional_store

            return regional_store.store()
        return store.remote_store(self) if where.away else self.delivery.artifact_store()


class DeliveryPipelineStack(Stack):
    """``<kind>-pipeline`` (tools). Subclasses set ``delivery``, ``build_class`` (their build stack,
    for the project and check names) and implement :meth:`deploy_action` / :meth:`deploy_grants`.

    ``part = "roles"`` makes the same class render ``<kind>-pipeline-roles``: the roles the stages
    need, no pipeline (``components.pipeline``); the registry makes one class of each part."""

    delivery: Delivery = None
    build_class = None
    build_stage = "Build"
    checks_stage = "TestAndScan"
    part = "pipeline"
    #: ``infrastructure: pipeline``: target-stack parameters taken from the release being deployed,
    #: ``{parameter: (artifact, JSON file, key)}`` (``components.infrastructure``).
    release_parameters: dict = {}

    @property
    def component(self):
        return self.delivery.component

    #: Whether the kind can deploy a wave in another account or Region (its deploy action and grants
    #: name the target by physical names, ``away_deploy_grants``).
    supports_away = False

    def create(self):
        self.create_parameters()
        self.check_placements()
        self.create_imports()
        self.pipeline = DeliveryPipeline(self, self.component, self.artifact_bucket, self.key, part=self.part,
                                         role_export=self.delivery.role_export,
                                         trigger_rules=("source",) + ((infrastructure.RULE_SUFFIX,)
                                                                      if self.infrastructure else ()))
        self.create_deploy_roles()
        self.create_stages()
        if self.part != "roles":
            self.output("PipelineName", self.pipeline.name, "Name of the pipeline")

    @classmethod
    def model_values(cls, env: str) -> dict:
        return placement.model_values(cls.model, cls.app.waves)

    def pipeline_parameter(self, name, group, label, **props):
        """A parameter only the pipeline's actions read (never a grant): the roles stack, which runs
        the same stages and discards the actions, does not declare it (an unused parameter)."""
        if self.part == "roles":
            return Parameter(name, **props)
        return self.parameter(name, group, label, **props)

    # -- hooks ---------------------------------------------------------------
    def deploy_action(self, target: Target, role):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def away_deploy_grants(cls, env: str, application: str) -> list:  # pragma: no cover - abstract
        """What the deploy action needs in wave ``env``'s own account (``env``: ``Fn::Sub`` text, the
        bootstrap stack's ``${EnvironmentName}``; ``application``: its name, or ``*`` for every application
        of the kind), by physical names: the bootstrap deploy role gets it."""
        raise NotImplementedError

    @classmethod
    def away_grants(cls, env: str, every_application=False) -> list:
        """Every grant the actions of an away wave need in its account (deploy, smoke test, recorder),
        held by its bootstrap deploy role (``stacks/bootstrap.py``). ``every_application``: for every
        application of this kind (names ``{project}-{env}-*``), so the bootstrap template keeps one set per
        kind however many applications the model has."""
        application = "*" if every_application else cls.app.name
        component = "*" if every_application else cls.delivery.component
        project = ProjectReference(Sub("${ProjectName}-%s-%s-check-%s" % (env, component, env)))
        grants = list(cls.away_deploy_grants(env, application)) + project.grant_start_build()
        from . import operations  # operations reads this module's waves

        if operations.kind_alarms(cls.app):  # the stage conditions read the wave's alarms under this role
            grants.append(allow([cloudwatch_actions.DescribeAlarms],
                                [naming.arn("cloudwatch", "alarm:${ProjectName}-%s-%s-*" % (env, application))]))
        if cls.delivery.recorder_stack:
            recorder = f"{component}-record" if every_application else cls.delivery.recorder_component
            grants += FunctionReference(Sub("${ProjectName}-%s-%s" % (env, recorder))).grant_invoke()
        return grants

    def deploy_grants(self, target: Target):  # pragma: no cover - abstract
        """Statements the deploy action for ``target`` needs (its own role gets exactly these)."""
        raise NotImplementedError

    def target_url(self, target: Target):  # pragma: no cover - abstract
        """URL of the deployed application in ``target`` (the approval links to staging's)."""
        raise NotImplementedError

    # -- shared steps --------------------------------------------------------
    def create_parameters(self):
        self.source = sources.for_application(self, self.app, artifacts.source_bucket)
        self.targets = waves(self.model, self.app)
        # infrastructure: pipeline -> per wave, the target stacks its Deploy stage updates (in import order)
        self.infrastructure = ({t: infrastructure.wave_stacks(self.model, self.app, t.env) for t in self.targets}
                               if infrastructure.enabled(self.app) else None)
        self.scan_threshold = self.pipeline_parameter(
            "ScanFailOnSeverity", "Checks", "Source scan gate",
            Type="String", Default="high", AllowedValues=SCAN_SEVERITIES,
            Description="The source and dependency scan fails on findings of this severity or worse",
        )

    def scan_actions(self) -> list:
        """The shared scanners (``scanners`` stack) this pipeline runs beside its own checks:
        ``[(action name, project, input artifacts, action variables)]``."""
        return [("SecurityScan", scanners.security_scan(), [SOURCE],
                 action_variables({"APP_DIR": ".", "FAIL_ON_SEVERITY": "${Threshold}"},
                                  Threshold=Ref(self.scan_threshold)))]

    def check_placements(self):
        """A wave in another account or Region needs a kind whose actions name the target by physical
        names (one line, exit 2, naming the model key)."""
        from ..model import ModelError

        self.placements = {t: placement.placement(self.model, t.env) for t in self.targets}
        tools = self.model.environment(self.model.tools)
        for target, where in self.placements.items():
            if where.cross_account and not tools.account:
                raise ModelError([f"{where.account_origin}: wave '{target.env}' of application '{self.app.name}' is "
                                  f"in another account, but the tools environment '{tools.name}' names none; set "
                                  f"environments[{tools.name}].account (the wave's roles admit the tools pipelines)"])
            same_region = [t.env for t, w in self.placements.items() if w.region and w.region == where.region]
            if len(same_region) > 1:
                raise ModelError([f"{where.region_origin}: waves {', '.join(same_region)} of application "
                                  f"'{self.app.name}' are both in Region {where.region}; CodePipeline takes one artifact "
                                  f"store per Region: deliver one of them from its own Region"])
            if where.away and not self.supports_away:
                from ..kinds import away_kinds  # kinds builds the stacks of this module

                key = "account" if where.cross_account else "region"
                origin = (where.account_origin if where.cross_account else where.region_origin) or self.model.path
                raise ModelError([f"{origin}: application '{self.app.name}' (kind {self.app.kind}) cannot yet deploy "
                                  f"a wave in another {key} than the tools environment; remove environments"
                                  f"[{target.env}].{key} or deliver an application of kind "
                                  f"{'/'.join(away_kinds())} there"])

    def away(self, target: Target) -> bool:
        return self.placements[target].away

    def create_imports(self):
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.artifact_bucket = self.delivery.artifact_store()

    def create_deploy_roles(self):
        """One deploy role per target, assumable by this pipeline's role only, with exactly that
        target's grants: a production deploy cannot run with staging's role or the other way round.
        They live in the roles stack; the pipeline stack names them by imported ARN. A wave in another
        account or Region runs under its bootstrap deploy role instead (``components.placement``), which
        the pipeline role may assume, by exact ARN."""
        self.deploy_roles = {}
        for target in self.targets:
            if self.away(target):
                if self.placements[target].cross_region:
                    self.pipeline.add_artifact_store(*placement.regional_store(self, target.env))
                arn = placement.deploy_role_arn(self, target.env)
                self.pipeline.role.grant(allow([sts.AssumeRole], [arn]))
                self.deploy_roles[target] = RoleReference(f"Deploy{target.label}Role", arn)
                continue
            role = self.pipeline.action_role(
                f"Deploy{target.label}Role", f"{self.component}-deploy-{target.slug}",
                f"Deploy action of pipeline {self.component} for the {target.label.lower()} target")
            role.grant(self.artifact_bucket.grant_read(), self.deploy_grants(target))
            if self.infrastructure:
                role.grant(infrastructure.grants(self, self.infrastructure[target], target.env))
            self.deploy_roles[target] = role

    def build_project(self, logical_id):
        """A project of the build stack, imported (``self.project`` is the ProjectName parameter)."""
        return self.delivery.project(logical_id)

    def create_stages(self):
        p = self.pipeline
        build = self.build_class
        self.source.attach(p)
        if self.infrastructure:  # the bundle `cfn-delivery publish` uploads (components.infrastructure)
            p.add_source_action(infrastructure.ARTIFACT, artifacts.source_bucket(), self.app.infrastructure_key,
                                infrastructure.ARTIFACT, infrastructure.RULE_SUFFIX)
        p.add_stage(self.build_stage, [p.codebuild_action("Build", self.build_project(build.build_project_id), [SOURCE],
                                                          [BUILD_OUTPUT])])
        # Same RunOrder: the checks and the shared scans run in parallel and all must pass.
        p.add_stage(self.checks_stage, [
            p.codebuild_action(action, self.build_project(logical_id), inputs, category="Test")
            for action, logical_id, inputs in build.check_actions
        ] + [
            p.codebuild_action(action, project, inputs, variables=variables, category="Test")
            for action, project, inputs, variables in self.scan_actions()
        ])
        previous = None
        for target in self.targets:
            if target.protected:
                p.add_stage(f"Approve{target.label}", [self.approval_action(previous, target)])
            self.create_target_stages(target, previous)
            previous = target

    def approval_action(self, previous, target):
        """The manual approval before a protected wave: it links to the wave before (where the
        same artifact was validated), or to nothing when the protected wave comes first."""
        if previous is None:
            return self.pipeline.approval_action(
                f"PromoteTo{target.label}",
                f"Approve deploying this build to {target.env}, the pipeline's first wave.", None)
        # A wave in another account exports its URL there only: no link (the message names the wave).
        return self.pipeline.approval_action(
            f"PromoteTo{target.label}",
            f"Promote the build validated on {previous.env} to {target.env}. Open the link, check the "
            f"{previous.env} release, then approve to deploy the same artifact to {target.env}.",
            None if self.away(previous) else self.target_url(previous),
        )

    def create_target_stages(self, target: Target, previous: Target = None):
        """``Deploy<Wave>``: the deploy, then the smoke test (and the recorder) in the same stage, so a failed
        validation rolls the deployment back with it (CodePipeline rolls back the stage that failed:
        https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html). A protected
        wave is entered only while the previous wave's alarms are not in ALARM; after the stage, the
        wave's own alarms are watched for its bake time and one in ALARM rolls the stage back."""
        p = self.pipeline
        away = self.away(target)
        entry = []
        if target.protected and previous is not None:
            entry = [p.alarm_rule(f"{previous.label}{key}", name, alarm_arn=arn, **self.rule_placement(previous))
                     for key, name, arn in self.wave_alarms(previous)]
        bake = [p.alarm_rule(f"Bake{key}", name, target.bake_minutes, alarm_arn=arn, **self.rule_placement(target))
                for key, name, arn in self.wave_alarms(target)]
        # infrastructure: pipeline -> the target stacks' change sets first, in import order; then the deploy
        stacks = self.infrastructure[target] if self.infrastructure else []
        first = infrastructure.steps(stacks)
        if away:  # in the wave's account or Region: by physical name, the bootstrap deploy role holds the grants
            smoke = p.action("SmokeTest", "Test", "CodeBuild",
                             {"ProjectName": self.delivery.validation_project_name(target)}, [SOURCE],
                             run_order=first + 2)
        else:
            validation = self.delivery.project(self.delivery.validation_project_id(target),
                                               self.delivery.validation_stack_of(target))
            smoke = p.codebuild_action("SmokeTest", validation, [SOURCE], run_order=first + 2, category="Test")
        deploy = self.deploy_action(target, self.deploy_roles[target])
        deploy.RunOrder = first + 1
        actions = infrastructure.actions(p, stacks, target.env, self.deploy_roles[target].arn,
                                         self.release_parameters) + [deploy, smoke]
        if self.delivery.recorder_stack:
            # Beside the smoke test: checks the target too and records the deployment, healthy or not. The
            # action imports the function (the recorder stack deploys first); the grant names it.
            if away:
                name = self.delivery.recorder_name(target.env)
            else:
                recorder = FunctionReference(self.delivery.recorder_export().imported(target.env),
                                             arn=self.delivery.recorder_arn())
                p.role.grant(recorder.grant_invoke())
                name = recorder.name
            actions.append(p.action("RecordDeployment", "Invoke", "Lambda", {"FunctionName": name},
                                    [SOURCE], run_order=first + 2))
        if away:
            actions = [self.place(action, target) for action in actions]
        p.add_stage("Deploy" + target.label, actions, rollback_on_failure=True, entry_rules=entry, bake_rules=bake)

    def place(self, action, target: Target):
        """Run ``action`` of an away wave under the wave's bootstrap deploy role, in its Region: CodePipeline
        assumes ``RoleArn`` (another account's role: https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-cross-account.html)
        and runs the action in ``Region``, copying its input artifacts to that Region's artifact store
        (https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html)."""
        role_arn, region = placement.wave_placement(self, target.env)
        action.RoleArn = role_arn
        if region is not None:
            action.Region = region
        return action

    def rule_placement(self, target: Target) -> dict:
        """``role_arn`` / ``region`` of an alarm rule on ``target``'s alarms: an away wave's alarms are in its
        account and Region, read under its bootstrap deploy role (``away_grants``)."""
        role_arn, region = placement.wave_placement(self, target.env)
        return {"role_arn": role_arn, "region": region} if role_arn is not None else {}

    def wave_alarms(self, target: Target) -> list:
        """``(key, alarm name, alarm ARN)`` of the alarms gating ``target``: the operations stack's (imported:
        the import makes it deploy first), or, when they live in the waves (``operations.alarms_in_waves``), by
        physical name in the wave's account and Region. A kind whose target stack owns its alarms overrides it."""
        from . import operations  # operations reads this module's waves

        if operations.alarms_in_waves(self.model, self.app):
            # ARN: None, the rule builds it in this account (a same-account wave) or reads under RoleArn
            return [(alarm.key, operations.wave_alarm_name(self.app, target.env, alarm), None)
                    for alarm in operations.kind_alarms(self.app)]
        return [(alarm.key, operations.wave_alarm(self.app, target.env, alarm).imported(),
                 operations.alarm_arn(self.app, target.env, alarm))
                for alarm in operations.kind_alarms(self.app)]
