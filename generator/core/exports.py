"""Cross-stack values: one typed declaration used by the exporting and the importing stack.

Export names follow ``{project}-{env}-{stack}-{key}``. Importers refer to the
declaration object (``foundation.EXPORTS.key_arn.imported()``), never to a
hand-spelled string, so a rename breaks at import time rather than at deploy.
"""
from __future__ import annotations

from dataclasses import dataclass

from troposphere import ImportValue, Sub


@dataclass(frozen=True)
class CrossStackValue:
    stack: str
    key: str
    description: str

    def export_name(self, env: str = "${EnvironmentName}") -> Sub:
        return Sub("${ProjectName}-%s-%s-%s" % (env, self.stack, self.key))

    def imported(self, env: str = "${EnvironmentName}") -> ImportValue:
        """The value as seen from another stack of environment ``env`` (default: the same one)."""
        return ImportValue(self.export_name(env))


class ExportSet:
    """The exports of one stack, declared as class attributes of a subclass."""

    stack = ""

    @classmethod
    def values(cls):
        return [v for v in vars(cls).values() if isinstance(v, CrossStackValue)]

    @classmethod
    def for_stack(cls, stack: str) -> type:
        """The same exports declared by the stack named ``stack`` (one application's copy of a kind's
        stack: ``EXPORTS.for_stack("orders-env")``)."""
        if stack == cls.stack:
            return cls
        values = {name: CrossStackValue(stack, v.key, v.description)
                  for name, v in vars(cls).items() if isinstance(v, CrossStackValue)}
        return type(cls.__name__, (ExportSet,), {"stack": stack, **values})


def declare(stack: str, key: str, description: str) -> CrossStackValue:
    return CrossStackValue(stack, key, description)
