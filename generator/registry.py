"""The one list of stacks the generator renders, and the environments that deploy them."""
from __future__ import annotations

from .stacks.artifacts import ArtifactsStack
from .stacks.ecr import EcrStack
from .stacks.ecs_pipeline import (EcsBuildStack, EcsNativeBuildStack, EcsNativePipelineStack, EcsNativeValidationStack,
                                  EcsPipelineStack, EcsValidationStack)
from .stacks.ecs_native_service import EcsNativeIngressStack, EcsNativeServiceStack
from .stacks.ecs_service import EcsIngressStack, EcsServiceStack
from .stacks.beanstalk import BeanstalkAppStack, BeanstalkEnvStack
from .stacks.beanstalk_pipeline import BeanstalkBuildStack, BeanstalkPipelineStack, BeanstalkValidationStack
from .stacks.foundation import FoundationStack
from .stacks.scanners import ImageScannerStack, SourceScannerStack

#: Every stack, in deploy order within an environment (a stack's ``requires`` come before it).
STACKS = [
    FoundationStack,
    ArtifactsStack,
    EcrStack,
    EcsIngressStack,
    EcsServiceStack,
    EcsNativeIngressStack,
    EcsNativeServiceStack,
    SourceScannerStack,
    ImageScannerStack,
    BeanstalkAppStack,
    BeanstalkEnvStack,
    BeanstalkBuildStack,
    BeanstalkValidationStack,
    BeanstalkPipelineStack,
    EcsBuildStack,
    EcsValidationStack,
    EcsPipelineStack,
    EcsNativeBuildStack,
    EcsNativeValidationStack,
    EcsNativePipelineStack,
]


def pipeline_components() -> list:
    """The component of every pipeline, in registry order.

    Components must be prefix-free (no ``a`` with another ``a-...``): an artifact store admits
    the roles ``{project}-{env}-<component>-*``, which must not match another pipeline's roles."""
    found = [s.delivery.component for s in STACKS if getattr(s, "build_class", None) is not None]
    for a in found:
        for b in found:
            if a != b and b.startswith(a + "-"):
                raise ValueError(f"pipeline components '{a}' and '{b}': one is a prefix of the other, so the "
                                 f"artifact store of '{a}' would admit the roles of '{b}'; rename one")
    return found


class UnknownStack(LookupError):
    pass


def names():
    return [stack.name for stack in STACKS]


def get(name: str):
    for stack in STACKS:
        if stack.name == name:
            return stack
    raise UnknownStack(f"unknown stack '{name}'; known stacks: {', '.join(names())}")


def for_environment(env: str):
    """Stacks deployed in ``env``, in deploy order."""
    return [s for s in STACKS if s.environments is None or env in s.environments]
