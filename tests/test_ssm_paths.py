"""Issue 11 acceptance, "no SSM path collides across applications": every SSM parameter a stack reads
(CodeBuild PARAMETER_STORE variables, SSM Parameter resources, ssm:GetParameter grants) resolves, in
every environment, to a path of one application only; the sample model plus a second application of
each kind. Names come from the model."""
from __future__ import annotations

import pytest

from generator import model, paramgen, registry, render
from tests.helpers import walk
from tests.test_model import MODEL_TEXT, NEW_APPLICATIONS, _resolve


def _ssm_paths(template: dict, params: dict) -> set:
    found = set()
    for value in walk(template):
        if not isinstance(value, dict):
            continue
        if value.get("Type") == "PARAMETER_STORE" and "Value" in value:
            found.add(_resolve(value["Value"], params))
        if value.get("Type") == "AWS::SSM::Parameter":
            found.add(_resolve((value.get("Properties") or {}).get("Name"), params))
        resource = value.get("Resource")
        actions = value.get("Action")
        if resource is not None and any(str(a).startswith("ssm:") for a in (actions if isinstance(actions, list)
                                                                            else [actions])):
            for r in resource if isinstance(resource, list) else [resource]:
                arn = _resolve(r, params)
                if arn and ":parameter" in arn:
                    found.add(arn.split(":parameter", 1)[1])
    found.discard(None)
    return found


def _owners(m) -> dict:
    """(env, path) -> application names whose stacks read it."""
    owners = {}
    for cls in registry.stacks(m):
        if cls.app is None:
            continue
        template = render.rendered(cls)[0]
        for env in cls.environments:
            params = dict(paramgen.parameter_values(cls, env), **{"AWS::Region": "eu-west-1",
                                                                 "AWS::AccountId": "123456789012",
                                                                 "AWS::Partition": "aws"})
            for path in _ssm_paths(template, params):
                owners.setdefault((env, path), set()).add(cls.app.name)
    return owners


@pytest.mark.parametrize("kind", sorted(NEW_APPLICATIONS))
def test_no_ssm_path_is_shared_by_two_applications(kind):
    m = model.loads(MODEL_TEXT.rstrip("\n") + "\n\n" + NEW_APPLICATIONS[kind], "delivery.yaml")
    owners = _owners(m)
    shared = {k: sorted(v) for k, v in owners.items() if len(v) > 1}
    assert shared == {}, shared
    readers = {app for apps in owners.values() for app in apps}
    # every application that builds an image reads its own Docker Hub token: the check is not vacuous
    with_token = {cls.app.name for cls in registry.stacks(m)
                  if cls.app is not None and "DockerHubTokenParameter" in (render.rendered(cls)[0].get("Parameters") or {})}
    assert with_token and with_token <= readers, (with_token, readers)
    for (env, path), apps in owners.items():
        [app] = apps
        assert path.startswith(f"/{m.project.name}/{app}/"), path  # under the project's and application's prefix
