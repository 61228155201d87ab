"""One stack model shared by the tools: ``deploy``, ``diff``/``params diff`` and ``lint`` read
these facts here instead of keeping copies.

- naming: :func:`stack_name` (``{project}-{env}-{stack}``);
- parameters: :func:`effective_parameters` (file value, else template default, as the strings
  CloudFormation sees);
- stateful resources: :data:`STATEFUL_TYPES` (the one list), :func:`is_stateful`,
  :func:`is_stateful_resource`, :func:`stateful_resources`;
- AWS: :class:`Target` / :class:`Clients` / :func:`cloudformation_client` (botocore adaptive
  retries, optional local endpoint), :func:`describe_stack`, :func:`deployed_template`,
  :func:`change_set_template`;
- exports: :mod:`.exports` (which exports an update removes, renames or changes, and who imports them).
"""
from __future__ import annotations

from . import exports  # noqa: F401  (exports other stacks import: ListImports)
from .aws import (DEFAULT_MAX_ATTEMPTS, Clients, Target, change_set_template, cloudformation_client,
                  deployed_template, describe_stack, retry_config)
from .parameters import cfn_string, effective_parameters, project_name, stack_name
from .stateful import (CFN_LINT_STATEFUL_TYPES, EXTRA_STATEFUL_TYPES, KEEPING_POLICIES, STATEFUL_TYPES,
                       is_stateful, is_stateful_resource, stateful_resources)

__all__ = [
    "CFN_LINT_STATEFUL_TYPES", "Clients", "DEFAULT_MAX_ATTEMPTS", "EXTRA_STATEFUL_TYPES", "KEEPING_POLICIES",
    "STATEFUL_TYPES", "Target", "cfn_string", "change_set_template", "cloudformation_client", "deployed_template",
    "describe_stack",
    "effective_parameters", "is_stateful", "is_stateful_resource", "project_name", "retry_config",
    "stack_name", "stateful_resources",
]
