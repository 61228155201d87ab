"""What ``delivery.yaml`` says, as typed objects (built by :mod:`.loader`, read everywhere else)."""
from __future__ import annotations

from dataclasses import dataclass, field


class Placeholder(str):
    """A sample value marked ``!placeholder`` in the model: it cannot work in a real account."""


@dataclass(frozen=True)
class Value:
    """A parameter value and where the model sets it (``delivery.yaml:12 environments[1].parameters.VpcId``)."""

    value: str
    origin: str
    placeholder: bool = False


@dataclass(frozen=True)
class Project:
    name: str
    cost_center: str
    region: str = None
    tags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    name: str
    protected: bool = False
    account: str = None
    region: str = None
    profile: str = None
    cost_center: str = None
    rollback_triggers: tuple = ()
    monitoring_minutes: int = None
    tags: dict = field(default_factory=dict)
    #: Parameter name -> :class:`Value`: every stack of this environment that declares it gets it.
    parameters: dict = field(default_factory=dict)
    #: Key (``account``, ``region``) -> where the model sets it: ``delivery.yaml:12: environments[3].account``.
    origin: dict = field(default_factory=dict, compare=False)
    #: Organizational unit ids the bootstrap StackSet of this environment targets (issue 15).
    organizational_units: tuple = ()
    #: Minutes a pipeline watches this environment's alarms after deploying to it (bake time).
    bake_minutes: int = 0

    def rollback_configuration(self):
        """``RollbackConfiguration`` for CreateChangeSet, or ``None`` when nothing is configured."""
        if not self.rollback_triggers and self.monitoring_minutes is None:
            return None
        config = {"RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in self.rollback_triggers]}
        if self.monitoring_minutes is not None:
            config["MonitoringTimeInMinutes"] = self.monitoring_minutes
        return config


@dataclass(frozen=True)
class Source:
    """Where an application's pipeline starts (``source`` in the model; see docs/model.md).

    ``s3``: an archive (``object_key``) in the tools source bucket; ``codecommit``: ``branch`` of an
    existing repository ``repository``; ``connection``: ``branch`` of ``repository`` (owner/name)
    at ``provider``, read through a CodeConnections connection, optionally only for pushes that
    touch ``file_paths``."""

    type: str = "s3"
    object_key: str = None
    repository: str = None
    branch: str = "main"
    provider: str = "GitHub"
    file_paths: tuple = ()


@dataclass(frozen=True)
class Application:
    name: str
    kind: str
    waves: tuple
    extra_environments: tuple = ()
    source: Source = field(default_factory=Source)
    #: Parameter name -> :class:`Value` for every stack of the application, in every environment.
    parameters: dict = field(default_factory=dict)
    #: Environment -> {parameter name -> :class:`Value`}.
    overrides: dict = field(default_factory=dict)
    line: int = 0
    #: Who deploys the target stacks: ``deploy`` (cfn-delivery deploy) or ``pipeline`` (change-set actions).
    infrastructure: str = "deploy"

    @property
    def infrastructure_key(self) -> str:
        """The infrastructure bundle's key in the tools source bucket (``cfn-delivery publish``)."""
        return f"infrastructure/{self.name}.zip"

    @property
    def runtime_environments(self) -> tuple:
        """Where the application's runtime stacks live: its waves, then its extra environments."""
        return tuple(self.waves) + tuple(e for e in self.extra_environments if e not in self.waves)

    @property
    def source_type(self) -> str:
        return self.source.type

    @property
    def object_key(self) -> str:
        """The S3 source's key (``s3`` sources only): the model's, else ``<name>/source.zip``."""
        return self.source.object_key or f"{self.name}/source.zip"


@dataclass(frozen=True)
class Model:
    path: str
    project: Project
    tools: str
    environments: tuple
    applications: tuple
    #: ``audit.source_trail``: a CloudTrail trail of the source bucket's object writes (``source-trail``).
    source_trail: bool = False

    # -- lookups ---------------------------------------------------------------
    @property
    def environment_names(self) -> list:
        return [e.name for e in self.environments]

    def environment(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    def application(self, name: str) -> Application:
        for app in self.applications:
            if app.name == name:
                return app
        raise KeyError(name)

    def cost_center(self, env: str) -> str:
        return self.environment(env).cost_center or self.project.cost_center

    def tags(self, env: str) -> dict:
        """Stack tags of ``env``: the project's, then the environment's."""
        merged = dict(self.project.tags)
        merged.update(self.environment(env).tags)
        return merged

    def parameter_values(self, env: str, app: Application = None) -> dict:
        """Parameter name -> :class:`Value` the model sets for a stack of ``app`` (or a shared stack) in
        ``env``: the environment's parameters, then the application's, then its overrides for ``env``."""
        values = {
            "ProjectName": Value(self.project.name, f"{self.path}: project.name"),
            "EnvironmentName": Value(env, f"{self.path}: environments name"),
            "CostCenter": Value(self.cost_center(env), f"{self.path}: cost_center"),
        }
        values.update(self.environment(env).parameters)
        if app is not None:
            values.update(app.parameters)
            values.update(app.overrides.get(env, {}))
        return values

    def placeholders(self) -> list:
        """Every :class:`Value` marked ``!placeholder``, in file order."""
        found = [v for e in self.environments for v in e.parameters.values() if v.placeholder]
        for app in self.applications:
            found += [v for v in app.parameters.values() if v.placeholder]
            found += [v for o in app.overrides.values() for v in o.values() if v.placeholder]
        return found
