"""CodeBuild environment variables that look like secrets come from Parameter Store or Secrets Manager."""
from __future__ import annotations

import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import SOURCE_URL, properties, resources

SECRET_WORDS = {"PASSWORD", "PASSWD", "PWD", "TOKEN", "SECRET", "KEY", "APIKEY", "CREDENTIAL",
                "CREDENTIALS", "PRIVATE"}
#: A last word that makes the variable a pointer to a secret, not the secret (KMS_KEY_ARN, SECRET_NAME).
POINTER_WORDS = {"ARN", "ID", "ALIAS", "NAME", "PATH", "PREFIX"}
SAFE_TYPES = {"PARAMETER_STORE", "SECRETS_MANAGER"}


def looks_secret(name: str) -> bool:
    words = [w for w in re.split(r"[^A-Z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()) if w]
    return bool(words) and words[-1] not in POINTER_WORDS and any(w in SECRET_WORDS for w in words)


class CodeBuildSecretVariables(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "Secret-looking CodeBuild variables use PARAMETER_STORE or SECRETS_MANAGER"
    description = (
        "A CodeBuild environment variable whose name contains PASSWORD, TOKEN, SECRET, KEY, CREDENTIAL... "
        "(and does not end in ARN, ID, ALIAS, NAME, PATH or PREFIX) must be of type PARAMETER_STORE or "
        "SECRETS_MANAGER, so its value never sits in the template, the console or the build logs."
    )
    source_url = SOURCE_URL
    tags = ["resources", "codebuild", "secrets", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodeBuild::Project"):
            environment = properties(resource).get("Environment")
            variables = environment.get("EnvironmentVariables") if isinstance(environment, dict) else None
            if not isinstance(variables, list):
                continue
            for index, variable in enumerate(variables):
                if not isinstance(variable, dict) or not isinstance(variable.get("Name"), str):
                    continue
                if looks_secret(variable["Name"]) and variable.get("Type", "PLAINTEXT") not in SAFE_TYPES:
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties", "Environment", "EnvironmentVariables", index],
                        f"CodeBuild project {logical_id}: variable {variable['Name']} looks like a secret but has "
                        f"type {variable.get('Type', 'PLAINTEXT')}; use PARAMETER_STORE or SECRETS_MANAGER",
                    ))
        return matches
