"""Application kinds: the stacks an application of each kind renders, named after the application.

An application ``orders`` of kind ``ecs-bluegreen`` renders ``orders-ecr`` (tools), ``orders-ingress``
and ``orders-service`` (in each of its environments), ``orders-recorder`` (in each wave's environment),
and ``orders-store``, ``orders-build``, ``orders-validation-<wave>`` (one per wave), ``orders-operations``,
``orders-pipeline-roles`` and ``orders-pipeline`` (tools); a ``beanstalk`` one renders ``orders-app`` (tools, and
each of its environments in another account or Region), ``orders-env-roles`` then ``orders-env`` (in each of its
environments) instead of the first three. Each is a subclass of the kind's stack class carrying the model,
the application, the environments it is deployed in and the export sets of its sibling stacks,
so two applications never share a stack, a physical name or an export.
"""
from __future__ import annotations

from .stacks import (beanstalk, beanstalk_pipeline, beanstalk_roles, ecr, ecs_native_service, ecs_pipeline,
                     ecs_service, operations, recorder, scanners, store)
from .stacks import lambda_function, lambda_pipeline
from .components import placement
from .stacks.delivery import Delivery, waves

#: Kinds that build a container image (an ``<app>-ecr`` repository, the image scan gate).
CONTAINER_KINDS = ("ecs-bluegreen", "ecs-rolling")


#: The pipeline stack class of each kind (``kinds`` makes one subclass per application).
PIPELINES = {
    "beanstalk": beanstalk_pipeline.BeanstalkPipelineStack,
    "ecs-bluegreen": ecs_pipeline.EcsPipelineStack,
    "ecs-rolling": ecs_pipeline.EcsNativePipelineStack,
    "lambda": lambda_pipeline.LambdaPipelineStack,
}


def away_kinds() -> list:
    """Kinds whose pipelines deliver a wave in another account or Region (``supports_away``)."""
    return [kind for kind, pipeline in PIPELINES.items() if pipeline.supports_away]


def pipeline_component(kind: str, application: str) -> str:
    """The pipeline's component (``{project}-{tools}-<component>`` names it and its roles). A CodeDeploy
    pipeline is ``<application>-codedeploy``, so it never prefix-matches another application's."""
    return f"{application}-codedeploy" if kind == "ecs-bluegreen" else application


def pipeline_components(model) -> list:
    return [pipeline_component(app.kind, app.name) for app in model.applications]


def container_applications(model) -> list:
    return [app for app in model.applications if app.kind in CONTAINER_KINDS]


def runtime_environments(model, app) -> list:
    """Where ``app``'s runtime stacks live (its waves and extra environments), in the model's order."""
    return [env for env in model.environment_names if env in app.runtime_environments]


def _stack(base, name, model, app, environments, **attrs):
    """``base`` for one application: its own name, environments and sibling export sets."""
    attrs.update(name=name, model=model, app=app, environments=tuple(environments), __module__=base.__module__,
                 __qualname__=base.__qualname__)
    return type(base.__name__, (base,), attrs)


def scanner_roles(app) -> tuple:
    """The role ARN exports of the shared scanners ``app``'s pipeline runs (its store admits them)."""
    roles = (scanners.SOURCE_EXPORTS.role_arn,)
    if app.kind in CONTAINER_KINDS:
        roles += (scanners.IMAGE_EXPORTS.role_arn,)
    return roles


def _delivery_stacks(model, app, target_stack, endpoint_stack, build, validation, pipeline, target_exports=None,
                     **shared) -> list:
    """The delivery stacks of ``app``. ``target_exports``: the export set the operations stack's wave alarms
    read (``operations.WAVE_ALARMS`` says what, per kind)."""
    name = app.name
    component = pipeline_component(app.kind, name)
    recorded = app.kind in recorder.KINDS
    delivery = Delivery(component, f"{name}-build", f"{name}-validation", f"{name}-pipeline",
                        f"{name}-pipeline-roles", store.stack_name(name), target_stack, endpoint_stack,
                        recorder_stack=f"{name}-recorder" if recorded else None)
    tools = [model.tools]
    build_cls = _stack(build, delivery.build_stack, model, app, tools, delivery=delivery, **shared)
    extra = [
        # Notifications, audit trail, alarms and dashboard: the pipeline's stage conditions import its alarms.
        _stack(operations.OperationsStack, operations.stack_name(app), model, app, tools, delivery=delivery,
               builds=build_cls, TARGET=target_exports),
    ]
    if recorded:  # in each wave's environment: checks the target after a deploy and records it (history table)
        extra.append(_stack(recorder.RecorderStack, delivery.recorder_stack, model, app,
                            [env for env in model.environment_names if env in app.waves], delivery=delivery,
                            TARGET=target_exports, **shared))
    return [
        _stack(store.StoreStack, delivery.store_stack, model, app, tools, component=component,
               readers=scanner_roles(app)),
        build_cls,
        # A wave in another account or Region validates from its own account and Region (a project runs in a
        # VPC of its own): its validation stack is deployed there.
        *[_stack(validation, delivery.validation_stack_of(target), model, app,
                 [target.env] if placement.placement(model, target.env).away else tools, delivery=delivery,
                 wave=target.env) for target in waves(model, app)],
        *extra,
        _stack(pipeline, delivery.roles_stack, model, app, tools, delivery=delivery, build_class=build_cls,
               part="roles", description=f"IAM of pipeline {component}: its role, the source trigger's role and "
                                         f"one deploy role per wave (tools environment)", **shared),
        _stack(pipeline, delivery.pipeline_stack, model, app, tools, delivery=delivery, build_class=build_cls,
               **shared),
    ]


def beanstalk_stacks(model, app) -> tuple:
    """(runtime stacks, delivery stacks) of a ``beanstalk`` application."""
    name = app.name
    app_exports = beanstalk.APP_EXPORTS.for_stack(f"{name}-app")
    env_exports = beanstalk.EXPORTS.for_stack(f"{name}-env")
    roles_exports = beanstalk_roles.ROLES_EXPORTS.for_stack(f"{name}-env-roles")
    exports = dict(APP_EXPORTS=app_exports, EXPORTS=env_exports, ROLES_EXPORTS=roles_exports)
    envs = runtime_environments(model, app)
    runtime = [
        # In tools, and in each runtime environment of another account or Region (an application is per
        # account and Region): the environment stacks import it where it is (``beanstalk.application_environment``).
        _stack(beanstalk.BeanstalkAppStack, app_exports.stack, model, app,
               beanstalk.application_environments(model, app), EXPORTS=app_exports),
        # The environment's roles first: the environment imports its instance profile and service role.
        _stack(beanstalk_roles.BeanstalkEnvRolesStack, roles_exports.stack, model, app, envs,
               EXPORTS=roles_exports, APP_EXPORTS=app_exports),
        _stack(beanstalk.BeanstalkEnvStack, env_exports.stack, model, app, envs, **exports),
    ]
    return runtime, _delivery_stacks(
        model, app, env_exports.stack, None, beanstalk_pipeline.BeanstalkBuildStack,
        beanstalk_pipeline.BeanstalkValidationStack, PIPELINES[app.kind],
        target_exports=env_exports, **exports)


def ecs_stacks(model, app) -> tuple:
    """(runtime stacks, delivery stacks) of an ``ecs-bluegreen`` or ``ecs-rolling`` application."""
    name = app.name
    if app.kind == "ecs-bluegreen":
        module, ingress, service = ecs_service, ecs_service.EcsIngressStack, ecs_service.EcsServiceStack
        build, validation = ecs_pipeline.EcsBuildStack, ecs_pipeline.EcsValidationStack
    else:
        module, ingress, service = (ecs_native_service, ecs_native_service.EcsNativeIngressStack,
                                    ecs_native_service.EcsNativeServiceStack)
        build, validation = ecs_pipeline.EcsNativeBuildStack, ecs_pipeline.EcsNativeValidationStack
    ingress_exports = module.INGRESS_EXPORTS.for_stack(f"{name}-ingress")
    service_exports = module.EXPORTS.for_stack(f"{name}-service")
    envs = runtime_environments(model, app)
    runtime = [
        _stack(ecr.EcrStack, ecr.stack_name(name), model, app, [model.tools],
               component=pipeline_component(app.kind, name)),
        _stack(ingress, ingress_exports.stack, model, app, envs, EXPORTS=ingress_exports),
        _stack(service, service_exports.stack, model, app, envs, EXPORTS=service_exports, INGRESS=ingress_exports),
    ]
    return runtime, _delivery_stacks(model, app, service_exports.stack, ingress_exports.stack,
                                     build, validation, PIPELINES[app.kind], target_exports=ingress_exports,
                                     SERVICE=service_exports)


def lambda_stacks(model, app) -> tuple:
    """(runtime stacks, delivery stacks) of a ``lambda`` application: ``<app>-function`` per environment."""
    exports = lambda_function.EXPORTS.for_stack(f"{app.name}-function")
    runtime = [_stack(lambda_function.LambdaFunctionStack, exports.stack, model, app, runtime_environments(model, app),
                      EXPORTS=exports)]
    return runtime, _delivery_stacks(model, app, exports.stack, None, lambda_pipeline.LambdaBuildStack,
                                     lambda_pipeline.LambdaValidationStack, PIPELINES[app.kind])


BUILDERS = {
    "beanstalk": beanstalk_stacks,
    "ecs-bluegreen": ecs_stacks,
    "ecs-rolling": ecs_stacks,
    "lambda": lambda_stacks,
}
