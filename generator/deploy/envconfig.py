"""Per-environment deploy settings, read from the environment's entry in the model (delivery.yaml)::

    environments:
      - name: prod
        protected: true
        rollback_triggers: [arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-prod-5xx]
        monitoring_minutes: 15
        region: eu-west-1
        profile: shop-prod
        account: "123456789012"

Every key but ``name`` is optional; the model's schema already checked their shapes (at most 5
triggers, 0-180 minutes, region and profile names). Alarm ARNs are literal (the account and region
of the alarms the deployment watches).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import model as model_module

MAX_TRIGGERS = 5
MAX_MONITORING_MINUTES = 180


@dataclass
class EnvironmentConfig:
    env: str
    protected: bool = False
    rollback_triggers: list = field(default_factory=list)
    monitoring_minutes: int = None
    region: str = None
    profile: str = None
    account: str = None

    def rollback_configuration(self):
        """``RollbackConfiguration`` for CreateChangeSet, or ``None`` when nothing is configured."""
        if not self.rollback_triggers and self.monitoring_minutes is None:
            return None
        config = {"RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in self.rollback_triggers]}
        if self.monitoring_minutes is not None:
            config["MonitoringTimeInMinutes"] = self.monitoring_minutes
        return config


def load(env: str) -> EnvironmentConfig:
    """The deploy settings of ``env`` from the current model (``ModelError`` when it does not load)."""
    model = model_module.current()
    e = model.environment(env)
    return EnvironmentConfig(env, e.protected, list(e.rollback_triggers), e.monitoring_minutes,
                             e.region or model.project.region, e.profile, e.account)
