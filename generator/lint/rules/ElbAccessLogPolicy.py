"""A bucket policy that lets Elastic Load Balancing deliver access logs covers both kinds of Region."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.components.elb_logs import ELB_ACCOUNT_IDS, SERVICE_PRINCIPAL
from generator.lint.rules._common import properties, resources

ELB_ACCOUNTS = frozenset(ELB_ACCOUNT_IDS.values())


def _mentions_elb_account(text: str, elb_mappings) -> bool:
    if any(account in text for account in ELB_ACCOUNTS):
        return True
    return any(f'"Fn::FindInMap": ["{name}"' in text for name in elb_mappings)


def _elb_account_mappings(template) -> set:
    """Mappings whose values include an Elastic Load Balancing account id."""
    found = set()
    mappings = template.get("Mappings")
    if isinstance(mappings, dict):
        for name, body in mappings.items():
            if any(account in json.dumps(body) for account in ELB_ACCOUNTS):
                found.add(name)
    return found


class ElbAccessLogPolicy(CloudFormationLintRule):
    id = "E9111"
    shortdesc = "ELB access-log bucket policies cover legacy and new Regions"
    description = (
        "A bucket policy granting Elastic Load Balancing access-log delivery must name both the Region's "
        "ELB account (Regions available before August 2022) and the logdelivery.elasticloadbalancing."
        "amazonaws.com service principal (Regions since then), chosen per Region (e.g. a Mappings table and "
        "a condition). Naming only one makes load balancer creation fail in the other kind of Region, "
        "because the load balancer checks that it can write its logs."
    )
    source_url = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
                  "enable-access-logging.html#attach-bucket-policy")
    tags = ["resources", "s3", "elasticloadbalancing", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        elb_mappings = _elb_account_mappings(cfn.template)
        for logical_id, policy in resources(cfn, "AWS::S3::BucketPolicy"):
            document = properties(policy).get("PolicyDocument")
            if not isinstance(document, dict):
                continue
            text = json.dumps(document)
            service = SERVICE_PRINCIPAL in text
            account = _mentions_elb_account(text, elb_mappings)
            if service and not account:
                missing = "the Region's Elastic Load Balancing account (Regions available before August 2022)"
            elif account and not service:
                missing = f"the {SERVICE_PRINCIPAL} service principal (Regions available since August 2022)"
            else:
                continue
            matches.append(RuleMatch(
                ["Resources", logical_id, "Properties", "PolicyDocument"],
                f"bucket policy {logical_id} lets Elastic Load Balancing deliver access logs but does not name "
                f"{missing}; choose the principal per Region (see generator/components/elb_logs.py)",
            ))
        return matches
