"""Checks before anything is created: credentials, the account typed back, no placeholders."""
from __future__ import annotations

import os
import re

NO_CREDENTIALS = ("integ: no AWS credentials found; set AWS_PROFILE or AWS credentials for a SANDBOX account "
                  "to run it")
#: Values the sample parameter files carry that must be replaced before a real run.
PLACEHOLDER_TEXT = re.compile(r"(^|[@./])example\.(com|org|net)$|\b123456789012\b", re.IGNORECASE)
NETWORK_ID = re.compile(r"^(vpc|subnet|sg)-[0-9a-f]{8,17}$")


class Refused(Exception):
    """The run must not touch the account (exit 3)."""


def has_credentials(session) -> bool:
    """Whether the credential chain finds anything (no API call). A chain that fails (an expired
    SSO session, a broken credential process) raises: that is not "no credentials"."""
    return session.get_credentials() is not None


def identity(sts) -> dict:
    """STS GetCallerIdentity: ``{"Account", "Arn", "UserId"}``."""
    return sts.get_caller_identity()


def interactive(stdin) -> bool:
    """A person at a terminal, not CI."""
    if os.environ.get("CI"):
        return False
    try:
        return stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm_account(account: str, region: str, arn: str, stdin, is_interactive: bool, out=print) -> None:
    """Ask for the account id to be typed back; ``Refused`` unless it is."""
    out(f"integ will DEPLOY the sample into account {account} in {region} as {arn}, run its pipelines and then "
        f"DELETE everything it created. It costs money while it runs (load balancers, instances, Fargate tasks, "
        f"builds). Use a sandbox account.")
    if not is_interactive:
        raise Refused("integ: refusing to run without a person to confirm the account: stdin is not a terminal "
                      "(or CI is set); run `make integ` from an interactive shell")
    out(f"type the account id ({account}) to continue: ", end="", flush=True)
    answer = stdin.readline()
    if not answer:
        out()
        raise Refused("integ: no answer; nothing was touched")
    if answer.strip() != account:
        raise Refused(f"integ: '{answer.strip()}' is not {account}; nothing was touched")


def placeholders(plans) -> list:
    """Problems (one line each) for sample values left in the parameter files."""
    from ..paramfile import display
    from ..paths import param_file

    problems = []
    for p in plans:
        for key, value in sorted(p.params.parameters.items()):
            for part in str(value).split(","):
                if part and PLACEHOLDER_TEXT.search(part.strip()):
                    problems.append(f"{display(param_file(p.env, p.stack))}: {key} = '{value}' is a sample value; "
                                    f"set your own (or empty where allowed)")
                    break
    return problems


def network_ids(plans) -> dict:
    """``{id: [(plan, key)]}`` of the VPC, subnet and security-group ids the parameter files give."""
    found = {}
    for p in plans:
        for key, value in p.params.parameters.items():
            for part in str(value).split(","):
                part = part.strip()
                if NETWORK_ID.match(part):
                    found.setdefault(part, []).append((p, key))
    return found


def missing_network_ids(ec2, plans) -> list:
    """Problems for ids the account does not have in this region (the sample's ``vpc-0…`` and
    ``subnet-0…`` placeholders look real; the account is the judge)."""
    from ..paramfile import display
    from ..paths import param_file

    wanted = network_ids(plans)
    if not wanted:
        return []
    existing = set()
    calls = (("vpc-", "describe_vpcs", "VpcIds", "Vpcs", "VpcId"),
             ("subnet-", "describe_subnets", "SubnetIds", "Subnets", "SubnetId"),
             ("sg-", "describe_security_groups", "GroupIds", "SecurityGroups", "GroupId"))
    for prefix, method, arg, key, field in calls:
        ids = sorted(i for i in wanted if i.startswith(prefix))
        for one in ids:  # one by one: a batch with one unknown id fails as a whole
            try:
                existing.update(item[field] for item in getattr(ec2, method)(**{arg: [one]}).get(key, []))
            except Exception as err:
                if "NotFound" not in str(err) and "Malformed" not in str(err):
                    raise
    problems = []
    for value, uses in sorted(wanted.items()):
        if value in existing:
            continue
        for p, key in uses:
            problems.append(f"{display(param_file(p.env, p.stack))}: {key}: {value} does not exist in this account "
                            f"and region (a placeholder?); set your own id")
    return problems


def region_mismatches(configs: dict, region: str) -> list:
    """Environments whose entry in the model names another region than the one of the run."""
    from .. import model

    where = model.current().path if configs else "delivery.yaml"
    return [f"{where}: environment {env}: region {c.region} but the run deploys everything to {region}; "
            f"integ uses one account and region (pass --region {c.region} or remove its region)"
            for env, c in sorted(configs.items()) if c.region and c.region != region]
