"""The ordered list of ``(environment, stack)`` deployments of an end-to-end run.

Computed from the registry (each stack's ``environments`` and ``requires``) and the
environments of ``params/``; no stack name is known here. A requirement ``"stack"`` means
that stack in the same environment, ``"env:stack"`` that stack in ``env``. The order is a
topological order over the pairs; among the pairs that are ready, the one whose stack comes
first in the registry goes first, and for the same stack the environments other
environments depend on go first (the delivery environment, ``tools``), then unprotected
before protected ones. With the sample that gives: every environment's foundation (tools
first), then the tools stacks, the targets, the pipelines.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass


class PlanError(ValueError):
    """A requirement that cannot be met, or a cycle; the message names it."""


@dataclass(frozen=True)
class Deployment:
    env: str
    stack: str
    cls: object = None

    @property
    def key(self) -> str:
        return f"{self.env}:{self.stack}"

    def __str__(self):
        return self.key


def _requirement(env: str, req: str):
    req_env, _, req_stack = req.rpartition(":")
    return (req_env or env, req_stack)


def _deploys(cls, env) -> bool:
    from .. import registry

    return registry.deploys(cls, env)


def _requires(cls, env) -> tuple:
    from .. import registry

    return registry.requires(cls, env)


def environment_rank(stacks, envs, protected=None) -> dict:
    """Rank of each environment for ties: most required by other environments first,
    then unprotected before protected (``protected(env) -> bool``), then by name."""
    refs = {env: 0 for env in envs}
    for cls in stacks:
        for env in envs:
            if not _deploys(cls, env):
                continue
            for req in _requires(cls, env):
                req_env, _ = _requirement(env, req)
                if req_env != env and req_env in refs:
                    refs[req_env] += 1
    protected = protected or (lambda env: False)
    ordered = sorted(envs, key=lambda env: (-refs[env], bool(protected(env)), env))
    return {env: i for i, env in enumerate(ordered)}


def _cycle(graph: dict, remaining: set) -> list:
    """One cycle among ``remaining`` nodes (every one of them has an unmet requirement)."""
    start = min(remaining)
    trail, seen = [], {}
    node = start
    while node not in seen:
        seen[node] = len(trail)
        trail.append(node)
        node = min(dep for dep in graph[node] if dep in remaining)
    cycle = trail[seen[node]:] + [node]
    return cycle


def order(stacks, envs, protected=None) -> list:
    """``[Deployment]`` in deploy order; ``PlanError`` for an unmet requirement or a cycle."""
    envs = list(envs)
    index = {cls.name: i for i, cls in enumerate(stacks)}
    nodes = {(env, cls.name): cls for cls in stacks for env in envs if _deploys(cls, env)}
    graph, problems = {}, []
    for (env, name), cls in nodes.items():
        deps = []
        for req in _requires(cls, env):
            dep = _requirement(env, req)
            if dep not in nodes:
                why = (f"environment '{dep[0]}' is not part of the run" if dep[0] not in envs
                       else f"'{dep[0]}' does not deploy '{dep[1]}'")
                problems.append(f"{env}:{name} requires {dep[0]}:{dep[1]}, which is not in the plan ({why})")
                continue
            deps.append(dep)
        graph[(env, name)] = deps
    if problems:
        raise PlanError("\n".join(problems))
    rank = environment_rank(stacks, envs, protected)
    waiting = {node: len(set(deps)) for node, deps in graph.items()}
    users = {node: [] for node in graph}
    for node, deps in graph.items():
        for dep in set(deps):
            users[dep].append(node)

    def key(node):
        return (index[node[1]], rank[node[0]], node)

    ready = [key(node) for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result = []
    while ready:
        *_, node = heapq.heappop(ready)
        result.append(Deployment(node[0], node[1], nodes[node]))
        for user in users[node]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, key(user))
    if len(result) != len(nodes):
        remaining = {node for node in nodes if waiting[node] > 0}
        cycle = _cycle(graph, remaining)
        raise PlanError("stacks require each other in a cycle: " + " -> ".join(f"{e}:{s}" for e, s in cycle))
    return result


def from_project(envs=None) -> list:
    """The plan of this project: the model's stacks over its environments (or ``envs``)."""
    from .. import paths, registry
    from ..deploy import envconfig

    envs = list(envs) if envs else paths.environments()

    def protected(env):
        try:
            return envconfig.load(env).protected
        except Exception:  # reported when the stack plans are built
            return False

    return order(registry.stacks(), envs, protected)
