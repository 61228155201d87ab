"""Elastic Load Balancing access-log delivery into a bucket, correct in every Region.

The Elastic Load Balancing user guide's access-log page documents two bucket policies
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html#attach-bucket-policy):

* Regions available before August 2022: grant ``s3:PutObject`` to the Elastic Load Balancing
  account of the Region (``arn:aws:iam::<elb-account-id>:root``, one AWS-owned account per Region,
  table below);
* Regions available as of August 2022 or later: grant it to the service principal
  ``logdelivery.elasticloadbalancing.amazonaws.com``.

A load balancer checks that it can write there when it is created (or when access logs are turned
on), so a policy naming the wrong one of the two makes the load balancer fail to create. The
template therefore carries the table as a ``Mappings`` entry and picks the principal with a
condition: the Region is in the table -> its ELB account; otherwise -> the service principal.

Neither documented policy has an ``aws:SourceAccount``/``aws:SourceArn`` condition. With the
legacy account principal such a condition would never match (those keys are set only when a
*service principal* calls on a resource's behalf, IAM global condition keys), which would deny
delivery. Both branches are instead scoped by resource, as the page shows: only
``<prefix>/AWSLogs/<this account id>/*``, the path ELB writes this account's load balancers' logs
to, so a load balancer of another account pointed at this bucket cannot write.
"""
from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Allow, Statement
from troposphere import Equals, FindInMap, If, Or, Ref, Sub

SERVICE_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
MAPPING = "ElbAccessLogAccounts"
CONDITION = "ElbAccessLogsUseRegionAccount"

#: ``elb-account-id`` per Region available before August 2022: the table on the page above
#: (22 commercial Regions), plus the AWS GovCloud (US) and China Regions, whose ELB accounts the
#: GovCloud user guide and the Amazon Web Services in China documentation give for the same policy.
#: AWS-owned accounts; the deploying account's id never appears in a template.
ELB_ACCOUNT_IDS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}


def _region_in_table():
    """``Fn::Or`` takes 2-10 conditions: the Region tests in groups of at most ten, or-ed together."""
    tests = [Equals(Ref("AWS::Region"), region) for region in ELB_ACCOUNT_IDS]
    groups = [tests[i:i + 10] for i in range(0, len(tests), 10)]
    groups = [Or(*group) if len(group) > 1 else group[0] for group in groups]
    return Or(*groups) if len(groups) > 1 else groups[0]


def allow_access_log_delivery(stack, bucket, prefix: str, sid="AllowElbAccessLogDelivery") -> Statement:
    """Add to ``bucket`` (a SecureBucket of ``stack``) the documented ELB access-log grant for
    load balancers logging under ``prefix`` (their ``access_logs.s3.prefix``)."""
    if MAPPING not in stack.template.mappings:
        stack.template.add_mapping(MAPPING, {region: {"AccountId": account}
                                             for region, account in ELB_ACCOUNT_IDS.items()})
        stack.condition(CONDITION, _region_in_table())
    # The account branch's FindInMap is evaluated only where the condition holds (a Region in the table).
    principal = If(
        CONDITION,
        {"AWS": Sub("arn:${AWS::Partition}:iam::${ElbAccount}:root",
                    ElbAccount=FindInMap(MAPPING, Ref("AWS::Region"), "AccountId"))},
        {"Service": SERVICE_PRINCIPAL},
    )
    statement = Statement(
        Sid=sid, Effect=Allow, Principal=principal, Action=[s3_actions.PutObject],
        Resource=[bucket.objects("%s/AWSLogs/${AWS::AccountId}/*" % prefix)],
    )
    bucket.add_policy_statement(statement)
    return statement
