"""The base every stack builds on: common parameters, console grouping, tags, outputs.

A stack is a class whose ``create`` reads as a table of contents of small steps
(after stacker's blueprints), working on resource objects rather than strings.
"""
from __future__ import annotations

from troposphere import Export, Output, Parameter, Ref, Tags, Template

from . import naming
from .exports import CrossStackValue
from .suppress import METADATA_KEY, collect, declarations

MANAGED_BY = "cfn-delivery"
REQUIRED_TAGS = ("Project", "Environment", "ManagedBy", "CostCenter")
#: Required tags whose values change only with the resource's name (ProjectName, EnvironmentName are
#: in every physical name) or never: what a resource that must never be updated in place may carry.
CONSTANT_TAGS = ("Project", "Environment", "ManagedBy")

# Values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


class _StackClass(type):
    @property
    def requires(cls) -> tuple:
        """What this stack needs deployed first (``"stack"`` in the same environment, ``"env:stack"``
        elsewhere), recorded from the exports its template imports: ``registry.requires``."""
        from ..registry import requires

        return requires(cls) if cls.model is not None else ()


class Stack(metaclass=_StackClass):
    """Subclasses set ``name``, ``description`` and implement ``create``; the registry makes one
    subclass per rendered stack with the ``model`` (delivery.yaml), the ``app`` it belongs to (``None``
    for shared stacks) and the ``environments`` it is deployed in. What a stack needs deployed first
    is recorded from the exports it imports (``registry.requires``), never declared by hand."""

    name = ""
    description = ""
    model = None
    app = None
    #: The environments this stack is deployed in, in the model's order (set by the registry).
    environments = ()
    #: None of the stack's resource types takes tags (IAM managed policies only, say): no CostCenter parameter,
    #: which nothing would read.
    untagged = False

    def __init__(self):
        self.template = Template()
        self.template.set_version("2010-09-09")
        self.template.set_description(self.description)
        self._groups: dict = {}
        self._labels: dict = {}
        self._finalizers: list = []
        self._constant_tags: set = set()
        self.project = self.parameter(
            naming.PROJECT, "Naming", "Project name",
            Type="String", AllowedPattern=naming.PROJECT_PATTERN,
            ConstraintDescription="2-16 lower-case letters, digits or hyphens, starting with a letter",
            Description="Short project name; first part of every physical name and export",
        )
        self.environment = self.parameter(
            naming.ENVIRONMENT, "Naming", "Environment name",
            Type="String", AllowedPattern=naming.ENVIRONMENT_PATTERN,
            ConstraintDescription="2-8 lower-case letters or digits, starting with a letter (tools, dev, staging, prod, pr123)",
            Description="Environment this stack belongs to",
        )
        self.cost_center = None if self.untagged else self.parameter(
            "CostCenter", "Naming", "Cost center",
            Type="String", AllowedPattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/=+@-]{0,127}$",
            ConstraintDescription="1-128 characters valid in an AWS tag value",
            Description="Cost center tag put on every taggable resource",
        )

    # -- building blocks -------------------------------------------------
    def parameter(self, name, group, label, **props) -> Parameter:
        param = self.template.add_parameter(Parameter(name, **props))
        self._groups.setdefault(group, []).append(name)
        self._labels[name] = label
        return param

    def add(self, resource):
        return self.template.add_resource(resource)

    def condition(self, name, expression):
        self.template.add_condition(name, expression)
        return name

    def output(self, name, value, description, export: CrossStackValue = None, condition=None):
        kwargs = {"Description": description, "Value": value}
        if export is not None:
            kwargs["Export"] = Export(export.export_name())
        if condition:
            kwargs["Condition"] = condition
        self.template.add_output(Output(name, **kwargs))

    def export(self, value: CrossStackValue, expression, condition=None):
        """Output ``expression`` under the export name declared by ``value``."""
        self.output(value.key, expression, value.description, export=value, condition=condition)

    def tag_constantly(self, resource):
        """Tag ``resource`` with :data:`CONSTANT_TAGS` only (a resource no stack update may touch: a
        parameter-valued tag would make CloudFormation update it); E9106 is suppressed with the reason."""
        from .suppress import Suppression, suppress

        self._constant_tags.add(resource.title)
        suppress(resource, Suppression(
            "Tagged only with tags that never change without replacing it: a CostCenter change would make "
            "CloudFormation update this CODE_DEPLOY service, which ECS rejects; its tasks take CostCenter "
            "from the task definition (PropagateTags TASK_DEFINITION)",
            cfn_lint=("E9106",),
        ))

    def on_finalize(self, callback):
        """Run ``callback()`` after ``create`` (components complete policies others added to)."""
        self._finalizers.append(callback)

    # -- assembly ----------------------------------------------------------
    def create(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self) -> Template:
        self.create()
        for callback in self._finalizers:
            callback()
        self._tag_resources()
        metadata = {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": group}, "Parameters": names} for group, names in self._groups.items()
                ],
                "ParameterLabels": {name: {"default": label} for name, label in self._labels.items()},
            }
        }
        suppressed = declarations(self.template)
        if suppressed:
            metadata[METADATA_KEY] = {"suppressions": suppressed}
        self.template.set_metadata(metadata)
        return self.template

    def suppressions(self):
        return collect(self.template)

    def _tag_values(self):
        return {
            "Project": Ref(self.project),
            "Environment": Ref(self.environment),
            "ManagedBy": MANAGED_BY,
            "CostCenter": Ref(self.cost_center),
        }

    def _tag_resources(self):
        """Put the required tags on every resource whose type takes tags."""
        for resource in self.template.resources.values():
            spec = type(resource).props.get("Tags")
            if not spec:
                continue
            if self.untagged:
                raise ValueError(f"{self.name}: declared untagged, but {resource.title} takes tags")
            wanted = self._tag_values()
            if resource.title in self._constant_tags:
                wanted = {k: v for k, v in wanted.items() if k in CONSTANT_TAGS}
            existing = resource.properties.get("Tags")
            if spec[0] is dict:
                merged = dict(wanted)
                merged.update(existing or {})
                resource.Tags = merged
            else:
                current = list(existing.tags) if isinstance(existing, Tags) else list(existing or [])
                present = {t["Key"] for t in current}
                tags = Tags()
                tags.tags = current + [{"Key": k, "Value": v} for k, v in wanted.items() if k not in present]
                resource.Tags = tags
