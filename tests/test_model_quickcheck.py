"""Loading the model without its heavy parts (issue 12): libyaml composes the nodes and a yes/no
check (generator/model/quickcheck.py) stands in for jsonschema on a valid model. Neither may change
what a model means or how a broken one fails: the quick check may only say yes where jsonschema
finds no error, and the libyaml path must give the pure parser's data and lines."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import jsonschema
import pytest

from generator import model
from generator.model import loader
from generator.model.quickcheck import surely_valid
from generator.model.schema import SCHEMA
from tests.helpers import ROOT
from tests.test_model import MALFORMED, MODEL_TEXT

MODELS = [ROOT / "delivery.yaml", *sorted((ROOT / "examples" / "models").glob("*.yaml"))]
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _data(text):
    return loader._parse(text, "delivery.yaml")[0]


def _agrees(data):
    """The one-sided contract; returns (quick answer, jsonschema's)."""
    quick, valid = surely_valid(data, SCHEMA), VALIDATOR.is_valid(data)
    assert valid or not quick, json.dumps(data, default=str)[:300]
    return quick, valid


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_committed_models_take_the_quick_path(path):
    data = _data(path.read_text(encoding="utf-8"))
    assert _agrees(data) == (True, True)  # a valid model never imports jsonschema


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_quick_check_never_passes_what_jsonschema_refuses(case):
    try:
        data = _data(MALFORMED[case][0](MODEL_TEXT))
    except model.ModelError:
        return  # not YAML: the schema is never reached
    _agrees(data)


_ODD_VALUES = [None, True, False, 0, 7, -1, 181, 1.5, 5.0, "", "x", "Prod", "prod", "a" * 300, "arn:aws:x",
               [], ["staging"], ["staging", "staging"], {}, {"k": "v"}, {"aws:x": "v"}, [1, True], ["1", 1]]


def _mutations(data, path=()):
    """Every model obtained by replacing one value with an odd one, deleting one key or adding one."""
    if isinstance(data, dict):
        for key in list(data):
            for odd in _ODD_VALUES:
                yield path + (key,), ("set", odd)
            yield path + (key,), ("delete", None)
            yield from _mutations(data[key], path + (key,))
        yield path + ("unknownKey",), ("set", "v")
    elif isinstance(data, list):
        for i, item in enumerate(data):
            for odd in _ODD_VALUES:
                yield path + (i,), ("set", odd)
            yield from _mutations(item, path + (i,))


def _apply(data, path, action):
    out = copy.deepcopy(data)
    target = out
    for part in path[:-1]:
        target = target[part]
    what, value = action
    if what == "delete":
        del target[path[-1]]
    elif isinstance(target, list):
        target[path[-1]] = copy.deepcopy(value)
    else:
        target[path[-1]] = copy.deepcopy(value)
    return out


def test_quick_check_agrees_with_jsonschema_on_every_single_edit_of_the_models():
    checked = agreed = 0
    for path in MODELS:
        data = _data(path.read_text(encoding="utf-8"))
        # Every 13th edit (13 is prime to the 24 edits per key, so each kind of edit meets every key
        # in turn): jsonschema takes ~4 ms a model, the whole set ~50 s.
        for where, action in list(_mutations(data))[::13]:
            mutated = _apply(data, where, action)
            quick, valid = _agrees(mutated)
            checked += 1
            agreed += quick == valid
    assert checked > 500
    assert agreed / checked > 0.95  # it is also useful: a "no" is rarely only a doubt


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_libyaml_and_pure_parser_give_the_same_data_and_lines(path):
    text = path.read_text(encoding="utf-8")
    fast = loader._compose(loader._CLoader(text), "m")
    pure = loader._compose(loader._Loader(text), "m")
    assert fast[0] == pure[0]
    assert [type(v) for v in _leaves(fast[0])] == [type(v) for v in _leaves(pure[0])]  # Placeholder kept
    assert fast[1].lines == pure[1].lines and fast[1].problems == pure[1].problems


def _leaves(data):
    if isinstance(data, dict):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    else:
        yield data


def test_a_tab_in_a_plain_scalar_is_refused_as_before():
    text = MODEL_TEXT.replace("tools: tools\n", "tools: to\tols\n", 1)
    assert text != MODEL_TEXT
    with pytest.raises(model.ModelError) as err:
        model.loads(text, "delivery.yaml")
    assert "invalid YAML" in str(err.value)


def test_rendering_imports_neither_jsonschema_nor_the_deploy_tools():
    code = ("import sys, tempfile; from generator import render; render.write(out_dir=tempfile.mkdtemp()); "
            "print(sorted({m.split('.')[0] if not m.startswith('generator.') else '.'.join(m.split('.')[:2]) "
            "for m in sys.modules}))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                                           text=True).stdout.replace("'", '"')))
    unwanted = {"jsonschema", "boto3", "botocore", "cfnlint", "generator.deploy", "generator.review",
                "generator.lint", "generator.integ"}
    assert not loaded & unwanted
