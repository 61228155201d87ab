"""One `LoadBalancerScheme` vocabulary for every kind (ELBv2's `internal`/`internet-facing`): one value
under `environments[].parameters` serves Beanstalk and ECS stacks alike; the Beanstalk template maps
it to its own `ELBScheme` values. Stacks, environments and values are read from the model."""
from __future__ import annotations

import json

import pytest

from generator import paramfile, registry
from tests.helpers import PARAMS, load_template

VOCABULARY = {"internal", "internet-facing"}
MODEL = registry.stacks()[0].model

#: Every stack class whose template declares LoadBalancerScheme.
DECLARING = [cls for cls in registry.stacks() if "LoadBalancerScheme" in load_template(cls.name).get("Parameters", {})]


def _file(env, cls):
    return PARAMS / env / f"{cls.name}.json"


def test_every_kind_takes_one_vocabulary():
    kinds = {cls.app.kind for cls in DECLARING}
    assert len(kinds) >= 2, kinds  # Beanstalk and ECS stacks alike
    for cls in DECLARING:
        spec = load_template(cls.name)["Parameters"]["LoadBalancerScheme"]
        assert set(spec["AllowedValues"]) == VOCABULARY, cls.name
        assert spec["Default"] in VOCABULARY


def test_an_environment_value_reaches_every_kind_unchanged():
    checked = set()
    for env in MODEL.environments:
        value = env.parameters.get("LoadBalancerScheme")
        if value is None:
            continue
        for cls in DECLARING:
            if env.name not in cls.environments or "LoadBalancerScheme" in cls.app.overrides.get(env.name, {}):
                continue
            path = _file(env.name, cls)
            assert json.loads(path.read_text())["Parameters"]["LoadBalancerScheme"] == value.value, path
            paramfile.validate(path, load_template(cls.name))
            checked.add(cls.app.kind)
    assert len(checked) >= 2, checked  # one environment value, stacks of several kinds


def test_the_sample_sets_the_scheme_per_environment_only():
    """No application repeats (or translates) the environment's scheme for its kind."""
    for app in MODEL.applications:
        assert "LoadBalancerScheme" not in app.parameters, app.name
        for env, values in app.overrides.items():
            assert "LoadBalancerScheme" not in values, (app.name, env)


@pytest.mark.parametrize("scheme", sorted(VOCABULARY))
def test_every_kind_accepts_both_values_where_a_certificate_is_set(tmp_path, scheme):
    """Same file value, same verdict for every kind: where the environment has a certificate, both
    schemes pass every declaring stack's checks (AllowedValues and the template Rules)."""
    seen = set()
    for env in MODEL.environments:
        if "CertificateArn" not in env.parameters:
            continue
        for cls in DECLARING:
            if env.name not in cls.environments:
                continue
            data = json.loads(_file(env.name, cls).read_text())
            data["Parameters"]["LoadBalancerScheme"] = scheme
            path = tmp_path / env.name / f"{cls.name}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(data))
            paramfile.validate(path, load_template(cls.name))
            seen.add(cls.app.kind)
    assert len(seen) >= 2, seen


@pytest.mark.parametrize("cls", DECLARING, ids=lambda c: c.name)
def test_internet_facing_without_certificate_is_refused_by_every_kind(tmp_path, cls):
    env = cls.environments[0]
    data = json.loads(_file(env, cls).read_text())
    data["Parameters"].update({"LoadBalancerScheme": "internet-facing", "CertificateArn": ""})
    path = tmp_path / f"{cls.name}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, load_template(cls.name))
    assert "LoadBalancerScheme" in str(err.value) and "CertificateArn" in str(err.value)


@pytest.mark.parametrize("cls", DECLARING, ids=lambda c: c.name)
def test_beanstalk_only_spelling_is_rejected_with_the_allowed_values(tmp_path, cls):
    env = cls.environments[0]
    data = json.loads(_file(env, cls).read_text())
    data["Parameters"]["LoadBalancerScheme"] = "public"
    path = tmp_path / f"{cls.name}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, load_template(cls.name))
    [line] = err.value.problems
    assert "LoadBalancerScheme" in line and "internet-facing" in line and "internal" in line, line
