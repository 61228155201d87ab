"""``cfn-delivery platforms``: the current Elastic Beanstalk platform versions of a branch, newest
first, as the ARNs ``PlatformArn`` takes (``params/<env>/beanstalk-env.json``).

Equivalent to ``aws elasticbeanstalk list-platform-versions --filters
Type=PlatformBranchName,Operator==,Values=<branch> Type=PlatformStatus,Operator==,Values=Ready``
(https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_ListPlatformVersions.html).
"""
from __future__ import annotations

import sys

DEFAULT_BRANCH = "Python 3.12 running on 64bit Amazon Linux 2023"


def _version_key(summary):
    try:
        return tuple(int(part) for part in summary.get("PlatformVersion", "").split("."))
    except ValueError:
        return ()


def current(client, branch: str = DEFAULT_BRANCH) -> list:
    """``(arn, version, lifecycle state)`` of the Ready versions of ``branch``, newest first."""
    filters = [
        {"Type": "PlatformBranchName", "Operator": "=", "Values": [branch]},
        {"Type": "PlatformStatus", "Operator": "=", "Values": ["Ready"]},
    ]
    found, token = [], None
    while True:
        kwargs = {"Filters": filters, **({"NextToken": token} if token else {})}
        page = client.list_platform_versions(**kwargs)
        found.extend(page.get("PlatformSummaryList", []))
        token = page.get("NextToken")
        if not token:
            break
    found.sort(key=_version_key, reverse=True)
    return [(s["PlatformArn"], s.get("PlatformVersion", ""), s.get("PlatformLifecycleState", "")) for s in found]


def cmd_platforms(args) -> int:
    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    rows = current(session.client("elasticbeanstalk"), args.branch)
    if not rows:
        print(f"no Ready platform version in branch '{args.branch}' (check the branch name and region)",
              file=sys.stderr)
        return 1
    for arn, version, state in rows:
        print(f"{arn}\t{version}{'  (' + state + ')' if state else ''}")
    return 0


def register(sub):
    p = sub.add_parser("platforms", help="list current Elastic Beanstalk platform ARNs (for PlatformArn)",
                       description="List the Ready platform versions of a Beanstalk platform branch, newest "
                                   "first; put one into params/<env>/beanstalk-env.json as PlatformArn.")
    p.add_argument("--branch", default=DEFAULT_BRANCH, help=f"platform branch (default: {DEFAULT_BRANCH})")
    p.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    p.set_defaults(func=cmd_platforms)
