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
triggers, 0-180 minutes, region and profile names). ``identity`` holds deploy to ``account`` and
``region``. Alarm ARNs are literal (the account and region
of the alarms the deployment watches).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import model as model_module
from ..model import Environment



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
        """``RollbackConfiguration`` for CreateChangeSet, or ``None`` (the model's rule, in one place)."""
        return Environment(self.env, rollback_triggers=tuple(self.rollback_triggers),
                           monitoring_minutes=self.monitoring_minutes).rollback_configuration()


def load(env: str) -> EnvironmentConfig:
    """The deploy settings of ``env`` from the current model (``ModelError`` when it does not load)."""
    model = model_module.current()
    e = model.environment(env)
    return EnvironmentConfig(env, e.protected, list(e.rollback_triggers), e.monitoring_minutes,
                             e.region or model.project.region, e.profile, e.account)
