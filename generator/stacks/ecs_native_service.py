"""TEMPORARY STUB (lead's tree only; replaced by the wp/ecs branch at merge)."""
from ..components import ecs
from ..core.exports import ExportSet, declare
from .ecs_service import EcsServiceStack


class EXPORTS(ExportSet):
    stack = "ecs-native-service"
    cluster_name = declare(stack, "ClusterName", "x")
    service_name = declare(stack, "ServiceName", "x")
    task_family = declare(stack, "TaskDefinitionFamily", "x")
    execution_role_arn = declare(stack, "TaskExecutionRoleArn", "x")
    task_role_arn = declare(stack, "TaskRoleArn", "x")
    deploy_spec = declare(stack, "DeploySpec", "x")


def service(env):
    return ecs.ServiceReference(EXPORTS.cluster_name.imported(env), EXPORTS.service_name.imported(env))


def task_definition(env):
    return ecs.TaskDefinitionReference(EXPORTS.task_family.imported(env), EXPORTS.execution_role_arn.imported(env),
                                       EXPORTS.task_role_arn.imported(env))


class EcsNativeServiceStack(EcsServiceStack):
    name = "ecs-native-service"
