"""A Lambda function logs to a log group of its own template (KMS key and retention), never to one
Lambda creates on first invocation."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

DOC = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html"


def _sub_text(value):
    """The text of a string or a one-argument ``Fn::Sub``, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return value["Fn::Sub"]
    return None


class LambdaLogsToOwnLogGroup(CloudFormationLintRule):
    id = "E9121"
    shortdesc = "Lambda functions log to a log group their template creates"
    description = (
        "Without LoggingConfig.LogGroup a function logs to /aws/lambda/<function name>, which Lambda creates "
        "at the first invocation when it does not exist: without the environment's KMS key, without retention "
        "(kept forever), outside the stack. The function must name a log group of its template "
        "(LoggingConfig.LogGroup: !Ref <group>), or the template must create /aws/lambda/<FunctionName>."
    )
    source_url = DOC
    tags = ["resources", "lambda", "logs", "cfn-delivery"]

    def match(self, cfn):
        groups = dict(resources(cfn, "AWS::Logs::LogGroup"))
        names = {_sub_text(properties(g).get("LogGroupName")) for g in groups.values()} - {None}
        matches = []
        for logical_id, resource in resources(cfn, "AWS::Lambda::Function"):
            props = properties(resource)
            target = (props.get("LoggingConfig") or {}).get("LogGroup") if isinstance(props.get("LoggingConfig"), dict) else None
            if isinstance(target, dict) and target.get("Ref") in groups:
                continue
            function_name = _sub_text(props.get("FunctionName"))
            if target is None and function_name is not None and f"/aws/lambda/{function_name}" in names:
                continue
            where = "LoggingConfig.LogGroup " + json.dumps(target) if target is not None else "its default log group"
            matches.append(RuleMatch(
                ["Resources", logical_id, "Properties"],
                f"{logical_id} logs to {where}, which this template does not create: Lambda would create it "
                "without KMS and retention; add the log group and set LoggingConfig.LogGroup to !Ref it",
            ))
        return matches
