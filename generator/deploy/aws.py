"""boto3 clients for the deploy tool: they live in the stack model (:mod:`generator.stackmodel.aws`),
shared with review; these names stay importable from here."""
from __future__ import annotations

from ..stackmodel.aws import DEFAULT_MAX_ATTEMPTS, Clients, Target, retry_config  # noqa: F401
