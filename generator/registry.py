"""The one list of stacks the generator renders, and the environments that deploy them."""
from __future__ import annotations

from .stacks.artifacts import ArtifactsStack
from .stacks.ecr import EcrStack
from .stacks.ecs_pipeline import EcsPipelineStack, EcsRollingPipelineStack
from .stacks.ecs_service import EcsServiceStack
from .stacks.ecs_native_service import EcsNativeServiceStack
from .stacks.beanstalk import BeanstalkAppStack, BeanstalkEnvStack
from .stacks.beanstalk_pipeline import BeanstalkPipelineStack
from .stacks.foundation import FoundationStack

#: Every stack, in deploy order within an environment (a stack's ``requires`` come before it).
STACKS = [
    FoundationStack,
    ArtifactsStack,
    EcrStack,
    EcsServiceStack,
    EcsNativeServiceStack,
    BeanstalkAppStack,
    BeanstalkEnvStack,
    BeanstalkPipelineStack,
    EcsPipelineStack,
    EcsRollingPipelineStack,
]


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
