"""A CODE_DEPLOY-controlled ECS service that its own stack would update (E9108)."""
from __future__ import annotations

import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

#: Properties ECS refuses in UpdateService for a CODE_DEPLOY service (the handler always sends them).
WATCHED = ("TaskDefinition", "LoadBalancers", "DesiredCount", "PlatformVersion",
           # a tag change is a service update as well: tags from a parameter (CostCenter) would trigger it
           "Tags")
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def references(value) -> set:
    """Names of parameters and resources ``value`` refers to (Ref, GetAtt, Sub variables)."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) and item else item
                if isinstance(target, str):
                    found.add(target.split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (item[0], item[1]) if isinstance(item, list) and len(item) == 2 else (item, {})
                if isinstance(text, str):
                    local = set(variables) if isinstance(variables, dict) else set()
                    found |= {name.split(".")[0] for name in SUB_VARIABLE.findall(text)} - local
                found |= references(variables)
            else:
                found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


class CodeDeployServiceNotUpdated(CloudFormationLintRule):
    id = "E9108"
    shortdesc = "A CODE_DEPLOY ECS service is never updated by its stack"
    description = (
        "CloudFormation's AWS::ECS::Service handler sends every property in UpdateService, and ECS rejects "
        "UpdateService for CODE_DEPLOY services that name a task definition, load balancers, network "
        "configuration or platform version, so any stack update of such a service fails. Its TaskDefinition "
        "must not reference a task definition of the same template (Ref/GetAtt: a new revision ARN on each "
        "change; name the family instead), and TaskDefinition, LoadBalancers, DesiredCount, PlatformVersion "
        "and Tags must not depend on a parameter, except the parameters the create-only ServiceName uses "
        "(changing those replaces the service rather than updating it)."
    )
    source_url = "https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1529"
    tags = ["resources", "ecs", "codedeploy", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        template_resources = dict(resources(cfn))
        parameters = cfn.template.get("Parameters", {})
        parameters = set(parameters) if isinstance(parameters, dict) else set()
        task_definitions = {k for k, r in template_resources.items() if r.get("Type") == "AWS::ECS::TaskDefinition"}
        for logical_id, resource in resources(cfn, "AWS::ECS::Service"):
            props = properties(resource)
            controller = props.get("DeploymentController")
            if not (isinstance(controller, dict) and controller.get("Type") == "CODE_DEPLOY"):
                continue
            replaces = references(props.get("ServiceName"))
            revision = references(props.get("TaskDefinition")) & task_definitions
            if revision:
                matches.append(RuleMatch(
                    ["Resources", logical_id, "Properties", "TaskDefinition"],
                    f"CODE_DEPLOY service {logical_id} references task definition {sorted(revision)[0]} of this "
                    "template: every change registers a revision and updates the service, which ECS rejects; "
                    "name the task definition family instead (and DependsOn the task definition)",
                ))
            for name in WATCHED:
                if name not in props:
                    continue
                varying = sorted((references(props[name]) & parameters) - replaces)
                if varying:
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties", name],
                        f"CODE_DEPLOY service {logical_id}: {name} depends on parameter(s) {', '.join(varying)}; "
                        "a stack update changing them fails in UpdateService",
                    ))
        return matches
