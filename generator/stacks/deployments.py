"""``deployments`` (tools): the deployment history every pipeline records into (``components.history``).

Stateful, so apart from the pipelines' stacks that change often; each application's validation stack
has one recorder function per wave that writes to it (``stacks.delivery``).
"""
from __future__ import annotations

from ..components.history import HistoryTable, HistoryTableReference
from ..components.kms import KeyReference
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation


class EXPORTS(ExportSet):
    stack = "deployments"
    table_name = declare(stack, "HistoryTableName", "DynamoDB table of every pipeline's deployments")
    table_arn = declare(stack, "HistoryTableArn", "ARN of the deployment history table")


def history_table() -> HistoryTableReference:
    return HistoryTableReference(EXPORTS.table_name.imported(), EXPORTS.table_arn.imported(),
                                 KeyReference(foundation.EXPORTS.key_arn.imported()))


class DeploymentsStack(Stack):
    name = EXPORTS.stack
    description = "Deployment history of every pipeline: one DynamoDB item per deployment (tools)"

    @classmethod
    def model_values(cls, env: str) -> dict:
        from ..components import placement  # <Wave>AccountId of the recorders the table admits

        return placement.model_values(cls.model, cls.model.environment_names) if cls.model is not None else {}

    def create(self):
        table = HistoryTable(self, "HistoryTable", KeyReference(foundation.EXPORTS.key_arn.imported()))
        self.export(EXPORTS.table_name, table.name)
        self.export(EXPORTS.table_arn, table.arn)
