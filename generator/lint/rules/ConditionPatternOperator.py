"""A policy condition value with a wildcard compares with a *Like operator (E9115)."""
from __future__ import annotations

import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources, strings

#: The exact-match string operators: ``*`` and ``?`` in their values are literal characters
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String).
EXACT = re.compile(r"^(ForAnyValue:|ForAllValues:)?String(Not)?Equals(IgnoreCase)?(IfExists)?$")
SUBSTITUTION = re.compile(r"\$\{[^}]*\}")


def conditions(value, path):
    """``(path, condition block)`` of every policy statement inside ``value``."""
    if isinstance(value, dict):
        statements = value.get("Statement")
        for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
            if isinstance(statement, dict) and isinstance(statement.get("Condition"), dict):
                where = path + ["Statement"] + ([index] if isinstance(statements, list) else [])
                yield where + ["Condition"], statement["Condition"]
        for key, item in value.items():
            if key != "Statement":
                yield from conditions(item, path + [key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from conditions(item, path + [index])


class ConditionPatternOperator(CloudFormationLintRule):
    id = "E9115"
    shortdesc = "A condition value with * or ? uses StringLike, not StringEquals"
    description = (
        "StringEquals (and StringNotEquals, their IgnoreCase and set forms) compare the value exactly: a * or ? "
        "in it is a literal character, so a name pattern such as {project}-{env}-* matches nothing and the "
        "statement silently grants nothing (or, under StringNotEquals, excludes nothing). Use StringLike / "
        "StringNotLike for patterns."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String"
    tags = ["resources", "iam", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn):
            for path, block in conditions(properties(resource), ["Resources", logical_id, "Properties"]):
                for operator, keys in block.items():
                    if not EXACT.match(str(operator)) or not isinstance(keys, dict):
                        continue
                    for key, values in keys.items():
                        for where, text in strings(values, path + [operator, key]):
                            if "*" in SUBSTITUTION.sub("", text) or "?" in SUBSTITUTION.sub("", text):
                                matches.append(RuleMatch(where, (
                                    f"{operator} compares {key} with the pattern {text!r} literally; use "
                                    f"{operator.replace('Equals', 'Like')} for a pattern")))
        return matches
