"""The template budget: every rendered template stays at least 20 % inside each CloudFormation and
IAM limit it is subject to, so a later feature cannot silently eat the headroom (issue 12).

This module is the one home of those limits. ``render`` calls :func:`enforce` on every template it
renders (``cfn-delivery templates`` and ``--check`` fail on a finding), ``tests/test_budget.py``
checks the committed set, and ``bench/`` reports the margins with :func:`measure`.

Limits, as AWS documents them:

- CloudFormation quotas
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
  template body passed in a request 51,200 bytes (``aws cloudformation deploy --template-file``
  sends the body inline below that size; larger ones need ``--s3-bucket``), template body in an S3
  object 1 MB, 500 resources, 200 parameters, 200 outputs per template.
- IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html,
  "IAM and AWS STS character limits"): the inline policies of a role together 10,240 characters
  (the *aggregate* of every inline policy embedded in the role, so the ``Policy`` and
  ``UnscopedPolicy`` resources our roles get are summed); a managed policy 6,144 characters; a role
  trust policy 2,048 characters (the default quota). "IAM does not count white space when
  calculating the size of a policy against these limits", so neither do we.

Policy sizes are counted on the document as the template writes it (compact JSON, intrinsics
included): CloudFormation substitutes the values before IAM sees the policy. A
``${AWS::AccountId}`` or ``${AWS::Region}`` placeholder is at least as long as its value, an
``Fn::ImportValue`` or ``Fn::GetAtt`` about as long as the ARN it yields, and the 20 % headroom
covers the difference (project and environment names are at most 16 and 8 characters).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: The share of each limit a template may use.
BUDGET_SHARE = 0.8
CFN_QUOTAS_DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
IAM_QUOTAS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"


@dataclass(frozen=True)
class Limit:
    key: str      # short id, e.g. "body"
    label: str    # what is measured, for messages and tables
    limit: int
    unit: str
    hint: str     # what to do when a template crosses the budget

    @property
    def budget(self) -> int:
        return int(self.limit * BUDGET_SHARE)


BODY = Limit("body", "template body", 51_200, "bytes",
             "split the stack along a natural seam (cross-stack values through generator/core/exports.py) "
             "or compact what repeats")
S3_BODY = Limit("s3-body", "template body (S3 object)", 1_000_000, "bytes",
                "split the stack")
RESOURCES = Limit("resources", "resources", 500, "resources", "split the stack along a natural seam")
PARAMETERS = Limit("parameters", "parameters", 200, "parameters",
                   "group values into one parameter (CommaDelimitedList) or derive them from others")
OUTPUTS = Limit("outputs", "outputs", 200, "outputs", "export only what another stack imports")
ROLE_INLINE = Limit("role-inline-policy", "inline policies of role", 10_240, "characters",
                    "merge statements that share resources and conditions, or move grants to another role")
MANAGED_POLICY = Limit("managed-policy", "managed policy", 6_144, "characters",
                       "split the managed policy in two")
TRUST_POLICY = Limit("trust-policy", "trust policy of role", 2_048, "characters",
                     "trust one principal per role")

#: Every limit a template is measured against, in report order.
LIMITS = (BODY, S3_BODY, RESOURCES, PARAMETERS, OUTPUTS, ROLE_INLINE, MANAGED_POLICY, TRUST_POLICY)


@dataclass(frozen=True)
class Measure:
    """One measured value of one template against one limit (``subject``: the role or policy for
    the IAM limits, empty for the template-wide ones)."""
    template: str
    limit: Limit
    value: int
    subject: str = ""

    @property
    def over(self) -> bool:
        return self.value > self.limit.budget

    @property
    def share(self) -> float:
        """The value as a share of the hard limit (0.8 is the budget)."""
        return self.value / self.limit.limit

    @property
    def what(self) -> str:
        return f"{self.limit.label} {self.subject}" if self.subject else self.limit.label

    def message(self) -> str:
        return (f"{self.template}: {self.what} is {self.value:,} {self.limit.unit}, over the budget of "
                f"{self.limit.budget:,} ({BUDGET_SHARE:.0%} of the {self.limit.limit:,} limit); {self.limit.hint}")


_WHITESPACE = re.compile(r"\s")


def policy_size(document) -> int:
    """Characters of a policy document as IAM counts them: without white space."""
    return len(_WHITESPACE.sub("", json.dumps(document, separators=(",", ":"), ensure_ascii=False)))


def _role_key(reference) -> str:
    """A role as a policy names it: ``{"Ref": "X"}`` is the template's role ``X``."""
    if isinstance(reference, dict) and set(reference) == {"Ref"}:
        return str(reference["Ref"])
    return json.dumps(reference, sort_keys=True)


def iam_measures(name: str, template: dict) -> list:
    """The IAM policy sizes of a template: per role the sum of its inline policies (the role's
    ``Policies`` and every ``AWS::IAM::Policy`` naming it) and its trust policy; per
    ``AWS::IAM::ManagedPolicy`` its document."""
    inline: dict = {}
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies") or []:
                inline[logical_id] = inline.get(logical_id, 0) + policy_size(policy.get("PolicyDocument"))
            if "AssumeRolePolicyDocument" in props:
                found.append(Measure(name, TRUST_POLICY, policy_size(props["AssumeRolePolicyDocument"]), logical_id))
        elif kind == "AWS::IAM::Policy":
            size = policy_size(props.get("PolicyDocument"))
            for role in props.get("Roles") or []:
                key = _role_key(role)
                inline[key] = inline.get(key, 0) + size
        elif kind == "AWS::IAM::ManagedPolicy":
            found.append(Measure(name, MANAGED_POLICY, policy_size(props.get("PolicyDocument")), logical_id))
    found.extend(Measure(name, ROLE_INLINE, size, role) for role, size in inline.items())
    return found


def measure(name: str, template: dict, text: str) -> list:
    """Every measure of one rendered template (``template``: the dict, ``text``: the YAML written)."""
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    return [
        Measure(name, BODY, size),
        Measure(name, S3_BODY, size),
        Measure(name, RESOURCES, len(template.get("Resources") or {})),
        Measure(name, PARAMETERS, len(template.get("Parameters") or {})),
        Measure(name, OUTPUTS, len(template.get("Outputs") or {})),
    ] + iam_measures(name, template)


def findings(name: str, template: dict, text: str) -> list:
    """One line per measure of the template over its budget (empty when it meets the budget)."""
    return [m.message() for m in measure(name, template, text) if m.over]


class OverBudget(ValueError):
    """A rendered template crosses its budget; ``problems`` holds one line per finding."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("template over budget (generator/budget.py, 20 % under each AWS limit):\n  "
                         + "\n  ".join(self.problems))


def enforce(name: str, template: dict, text: str) -> None:
    """Raise :class:`OverBudget` when the template crosses its budget."""
    problems = findings(name, template, text)
    if problems:
        raise OverBudget(problems)
