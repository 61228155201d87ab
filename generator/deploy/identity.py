"""Where deploy is about to go against where the model says an environment lives
(``environments[].account`` and ``region`` in delivery.yaml), checked before any CloudFormation call.

- ``region``: the environment's own ``region`` is the clients' region (``envconfig``); ``--region``
  naming another one is refused (exit 2, no API call). ``project.region`` is only a default, which
  ``--region`` may override.
- ``account``: the credentials' account (sts:GetCallerIdentity, which needs no permission:
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html) must be the
  environment's; another one is refused (exit 2) before the first CloudFormation call, so the wrong
  profile cannot create stacks in the wrong account.

``params validate`` stays offline (no credentials needed, same local checks as deploy); these two
checks belong to deploy, whose first API call is the identity check.
"""
from __future__ import annotations

from .. import model as model_module
from .errors import DeployError, UsageError, one_line


def _environment(env):
    return model_module.current().environment(env)


def check_region(env: str, requested: str = None) -> None:
    """``--region`` against the environment's own ``region`` (exit 2, local)."""
    e = _environment(env)
    if e.region and requested and requested != e.region:
        where = e.origin.get("region", "delivery.yaml: environments.region")
        raise UsageError(f"{where}: environment '{env}' lives in region {e.region}, but --region {requested} was "
                         f"given; nothing was called; drop --region (deploy uses the model's region) or correct "
                         f"the region in the model")


def check_account(env: str, clients) -> str:
    """The credentials' account against ``environments[<i>].account``: the account id when the model
    declares one and it matches, ``None`` when it declares none; ``UsageError`` (exit 2) when it differs."""
    e = _environment(env)
    if not e.account:
        return None
    where = e.origin.get("account", "delivery.yaml: environments.account")
    try:
        caller = clients.get("sts").get_caller_identity()
    except Exception as err:
        raise DeployError(f"{where}: the account of the credentials in use could not be read (sts:GetCallerIdentity: "
                          f"{one_line(err)}), so environment '{env}' (account {e.account}) was not deployed; nothing "
                          f"was changed") from err
    actual = str(caller.get("Account", ""))
    if actual != e.account:
        raise UsageError(f"{where}: environment '{env}' lives in account {e.account}, but the credentials in use "
                         f"belong to account {actual} ({caller.get('Arn', 'unknown identity')}); nothing was changed; "
                         f"deploy with credentials of account {e.account} (--profile, the environment's profile, or "
                         f"AWS_PROFILE), or correct the account in the model")
    return actual
