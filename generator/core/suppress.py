"""Rule suppressions as data: declared once next to the resource, with a reason.

One :class:`Suppression` names the rule it breaks in each scanner's vocabulary
(checkov, cfn-lint, cfripper, AWS CloudFormation Guard) and the reason a security reviewer
would accept. The generator writes each tool's native form from that single declaration:
checkov ``Metadata.checkov.skip``, cfn-lint ``Metadata.cfn-lint.config.ignore_checks`` and
Guard ``Metadata.guard.SuppressedRules`` (the key the AWS Guard Rules Registry's rules and the
project's own ``generator/lint/guard/*.guard`` read) into the template, and the declaration itself under ``Metadata.cfn-delivery.suppressions``
so that the template file alone says what is suppressed and why. cfripper reads no
metadata: ``generator.lint.suppressions`` turns that key into cfripper allow-list filter
files (``--rules-filters-folder``) when ``make lint`` runs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: The generator's own metadata key: every suppression of a resource, with its reason.
METADATA_KEY = "cfn-delivery"


@dataclass(frozen=True)
class Suppression:
    reason: str
    checkov: tuple = ()
    cfn_lint: tuple = ()
    cfripper: tuple = ()
    #: rule ids of the project's least-privilege check (generator/lint/least_privilege.py)
    least_privilege: tuple = ()
    #: Guard rule names (``S3_BUCKET_REPLICATION_ENABLED``...): ``Metadata.guard.SuppressedRules``.
    guard: tuple = ()

    def __post_init__(self):
        if not self.reason or len(self.reason.strip()) < 20:
            raise ValueError("a suppression needs a reason a reviewer can accept (20+ characters)")
        if not (self.checkov or self.cfn_lint or self.cfripper or self.least_privilege or self.guard):
            raise ValueError("a suppression must name at least one rule")
        for tool in ("checkov", "cfn_lint", "cfripper", "least_privilege", "guard"):
            if isinstance(getattr(self, tool), str):
                raise ValueError(f"Suppression.{tool} takes a tuple of rule ids, not a string")

    def as_metadata(self) -> dict:
        """The declaration as written under ``Metadata.cfn-delivery.suppressions``."""
        entry = {"reason": self.reason}
        for tool, key in (("checkov", "checkov"), ("cfn_lint", "cfn-lint"), ("cfripper", "cfripper"),
                          ("least_privilege", "least-privilege"), ("guard", "guard")):
            if getattr(self, tool):
                entry[key] = list(getattr(self, tool))
        return entry


def suppression_id(suppression: Suppression) -> str:
    """A short, stable id for a declaration (the same reason and rules give the same id)."""
    import json

    text = json.dumps(suppression.as_metadata(), sort_keys=True)
    return "s" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def suppress(resource, suppression: Suppression):
    """Attach ``suppression`` to a troposphere resource (idempotent; merges with earlier ones)."""
    metadata = dict(getattr(resource, "resource", {}).get("Metadata", {}) or {})
    if suppression.checkov:
        skips = list(metadata.get("checkov", {}).get("skip", []))
        skips += [{"id": rule, "comment": suppression.reason} for rule in suppression.checkov]
        metadata["checkov"] = {"skip": skips}
    if suppression.cfn_lint:
        ignored = list(metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []))
        ignored += [rule for rule in suppression.cfn_lint if rule not in ignored]
        metadata["cfn-lint"] = {"config": {"ignore_checks": ignored}}
    if suppression.guard:
        rules = list(metadata.get("guard", {}).get("SuppressedRules", []))
        rules += [rule for rule in suppression.guard if rule not in rules]
        metadata["guard"] = {"SuppressedRules": rules}
    # The resource names its declarations by id; each declaration (reason and rules) is written once,
    # in the template's own Metadata.cfn-delivery.suppressions, by Stack.build (see ``declarations``).
    own = list(metadata.get(METADATA_KEY, {}).get("suppressions", []))
    if suppression_id(suppression) not in own:
        own.append(suppression_id(suppression))
    metadata[METADATA_KEY] = {"suppressions": own}
    resource.Metadata = metadata
    records = getattr(resource, "_suppressions", [])
    records.append(suppression)
    resource.__dict__["_suppressions"] = records  # troposphere's __setattr__ only takes known props
    return resource


def declarations(template) -> dict:
    """``{id: declaration}`` of every suppression used in a troposphere template, sorted by id."""
    found = {suppression_id(s): s.as_metadata() for _, s in collect(template)}
    return {key: found[key] for key in sorted(found)}


def collect(template) -> list:
    """``[(logical_id, Suppression)]`` for every suppressed resource of a troposphere template."""
    found = []
    for logical_id, resource in template.resources.items():
        for suppression in resource.__dict__.get("_suppressions", []):
            found.append((logical_id, suppression))
    return found
