"""Physical names checked against the services' length limits for every environment of the model.

A name is ``{project}-{env}-{component}`` (``core.naming``); with a long project, environment or
application name it can pass every schema yet fail at deploy time ("RoleName must be at most 64
characters"). ``problems(model)`` resolves each named resource's ``Fn::Sub`` with the model's values
(the account id and region at their longest) and reports names over the limit, naming the keys of
delivery.yaml to shorten. Limits: the CloudFormation resource reference of each type, e.g.
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName 64),
https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html (EnvironmentName 40),
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (63).
"""
from __future__ import annotations

import re

#: (resource type, property) -> the longest name the service accepts.
LIMITS = {
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"): 128,
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::ElasticBeanstalk::Environment", "EnvironmentName"): 40,
    ("AWS::ElasticBeanstalk::Application", "ApplicationName"): 100,
    ("AWS::CodePipeline::Pipeline", "Name"): 100,
    ("AWS::CodeBuild::Project", "Name"): 150,
    ("AWS::CodeDeploy::Application", "ApplicationName"): 100,
    ("AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName"): 100,
    ("AWS::ECS::Cluster", "ClusterName"): 255,
    ("AWS::ECS::Service", "ServiceName"): 255,
    ("AWS::ECS::TaskDefinition", "Family"): 255,
    ("AWS::ECR::Repository", "RepositoryName"): 256,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::Events::Rule", "Name"): 64,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::CloudTrail::Trail", "TrailName"): 128,
}
#: Pseudo parameters at their longest (a 12-digit account, the longest region names).
PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "ap-southeast-44", "AWS::Partition": "aws-us-gov"}
_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def _resolve(value, variables: dict):
    """The text of ``value`` (a string or ``Fn::Sub``) with ``variables`` substituted, else ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else {})
        if any(not isinstance(v, str) for v in local.values()):
            return None
        scope = dict(variables, **local)
        missing = [name for name in _VARIABLE.findall(text) if name not in scope]
        if missing:
            return None
        return _VARIABLE.sub(lambda m: scope[m.group(1)], text)
    return None


def problems(model) -> list:
    from . import paramgen, registry, render

    found = []
    for cls in registry.stacks(model):
        template = render.rendered(cls)[0]
        for env in cls.environments:
            variables = dict(PSEUDO, **paramgen.parameter_values(cls, env))
            for logical_id, resource in (template.get("Resources") or {}).items():
                for (rtype, prop), limit in LIMITS.items():
                    if resource.get("Type") != rtype:
                        continue
                    name = _resolve((resource.get("Properties") or {}).get(prop), variables)
                    if name is not None and len(name) > limit:
                        found.append(
                            f"{model.path}: stack {cls.name} in '{env}': {logical_id} {prop} '{name}' is "
                            f"{len(name)} characters, {rtype} allows {limit}; shorten project.name, the "
                            f"environment name{' or the application name' if cls.app else ''}")
    return found
