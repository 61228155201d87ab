"""Per-environment deploy settings: ``params/<env>/environment.json``.

::

    {
      "Protected": true,
      "RollbackTriggers": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-prod-5xx"],
      "MonitoringTimeInMinutes": 15,
      "Region": "eu-west-1",
      "Profile": "shop-prod"
    }

Every key is optional; a missing file means an unprotected environment with no
rollback triggers. Alarm ARNs are literal (the account and region of the alarms
the deployment watches); CloudFormation accepts at most 5 triggers and a
monitoring time of 0-180 minutes.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .. import paramfile, paths

KEYS = ("Protected", "RollbackTriggers", "MonitoringTimeInMinutes", "Region", "Profile")
MAX_TRIGGERS = 5
MAX_MONITORING_MINUTES = 180
ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:alarm:[^\s]{1,255}$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
PROFILE = re.compile(r"^[A-Za-z0-9_.@+=,-]{1,128}$")


@dataclass
class EnvironmentConfig:
    env: str
    protected: bool = False
    rollback_triggers: list = field(default_factory=list)
    monitoring_minutes: int = None
    region: str = None
    profile: str = None

    def rollback_configuration(self):
        """``RollbackConfiguration`` for CreateChangeSet, or ``None`` when nothing is configured."""
        if not self.rollback_triggers and self.monitoring_minutes is None:
            return None
        config = {"RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in self.rollback_triggers]}
        if self.monitoring_minutes is not None:
            config["MonitoringTimeInMinutes"] = self.monitoring_minutes
        return config


def load(env: str) -> EnvironmentConfig:
    """Read and check ``params/<env>/environment.json``; ``ParamFileError`` (one line per problem)."""
    path = paths.params_dir() / env / paths.ENVIRONMENT_CONFIG
    if not path.exists():
        return EnvironmentConfig(env)
    name = paramfile.display(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise paramfile.ParamFileError([f"{name}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}; fix the syntax there"])
    if not isinstance(data, dict):
        raise paramfile.ParamFileError([f"{name}: top level must be an object, e.g. {{\"Protected\": true}}"])
    problems = []
    for key in data:
        if key not in KEYS:
            problems.append(f"{name}: unknown key '{key}'; allowed: {', '.join(KEYS)}")
    protected = data.get("Protected", False)
    if not isinstance(protected, bool):
        problems.append(f"{name}: Protected: must be true or false (JSON boolean, unquoted)")
    triggers = data.get("RollbackTriggers", [])
    if not isinstance(triggers, list):
        problems.append(f"{name}: RollbackTriggers: must be a list of CloudWatch alarm ARNs")
        triggers = []
    if len(triggers) > MAX_TRIGGERS:
        problems.append(f"{name}: RollbackTriggers: {len(triggers)} alarms; CloudFormation accepts at most {MAX_TRIGGERS}")
    for i, arn in enumerate(triggers):
        if not isinstance(arn, str) or not ALARM_ARN.match(arn):
            problems.append(f"{name}: RollbackTriggers[{i}]: '{arn}' is not a CloudWatch alarm ARN "
                            f"(arn:aws:cloudwatch:<region>:<account>:alarm:<name>)")
    minutes = data.get("MonitoringTimeInMinutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)
                                or not 0 <= minutes <= MAX_MONITORING_MINUTES):
        problems.append(f"{name}: MonitoringTimeInMinutes: '{minutes}' must be a whole number from 0 to {MAX_MONITORING_MINUTES}")
    region = data.get("Region")
    if region is not None and not (isinstance(region, str) and REGION.match(region)):
        problems.append(f"{name}: Region: '{region}' is not a region name like eu-west-1")
    profile = data.get("Profile")
    if profile is not None and not (isinstance(profile, str) and PROFILE.match(profile)):
        problems.append(f"{name}: Profile: '{profile}' is not a profile name")
    if problems:
        raise paramfile.ParamFileError(problems)
    return EnvironmentConfig(env, protected, list(triggers), minutes, region, profile)
