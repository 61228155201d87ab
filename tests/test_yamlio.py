"""libyaml (C) and pure-Python YAML paths: the same bytes out, the same dicts in."""
import json
import random

import pytest
import yaml

from generator import registry, render, yamlio
from tests.helpers import TEMPLATES

needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")

# Strings that exercise every style decision: indicators, implicit types, line breaks,
# indentation, quotes, non-ASCII, and the characters libyaml and PyYAML write differently.
ATOMS = [
    "", " ", "a", "A b", "x: y", "x:y", "a #b", "#a", "- a", "-a", "---", "...", "? a", "?a", "a,b", "[a]", "{a}",
    "${AWS::Region}", "AWS::AccountId", "!a", "&a", "*a", "|a", ">a", "'a'", '"a"', "%a", "@a", "`a", "null", "~",
    "yes", "no", "on", "true", "1", "1.5", "0777", "0x1F", "1e3", "2024-01-01", "<<", "=", "a\nb", "a\n", "\na",
    "a \nb", "a\n b", "a\n\nb", "a\n\n\n", "a\tb", "\ta", "a\t", "a ", " a", "é", "日本", "😀", "\u2028", "\x85",
    "\xa0", "\ufeff", "a\r\nb", "\r", "\x07", "\x1b", "a\\b", "line1\nline2\n", "  indented\nx\n", "trailing  \nx\n",
    "a'b", 'a"b', "a: ", ":", "-", "?", "#", ",", "a" * 130, "w " * 70,
]


def _strings(count=600, seed=12):
    rng = random.Random(seed)
    return ATOMS + ["".join(rng.sample(ATOMS, rng.randint(2, 4))) for _ in range(count)]


def _documents(value):
    """The places a string can sit in a template: plain value, tagged scalar, inside a tagged
    sequence and mapping, long-form intrinsic under a short one, a key, nested lists."""
    return [
        {"K": value},
        {"K": {"Ref": value}},
        {"K": {"Fn::Sub": [value, {"x": value}]}},
        {"K": [value, {"Fn::GetAtt": ["A", "B.C"]}]},
        {value: 1},
        {"K": {"Fn::ImportValue": {"Fn::Sub": value}}},
        {"K": [], "L": {}, "M": [[value]]},
    ]


@needs_libyaml
@pytest.mark.parametrize("stack_cls", registry.STACKS, ids=registry.names())
def test_c_and_pure_emitters_write_every_template_alike(stack_cls):
    built = render.as_dict(render.build(stack_cls))
    # the committed templates must take the fast path, or this test would compare pure with pure
    assert yamlio._libyaml_body(yamlio.canonical(built)) is not None
    fast = yamlio.dump(built, header=render.header(stack_cls))
    assert fast == yamlio.dump(built, header=render.header(stack_cls), pure=True)
    assert fast.encode("utf-8") == (TEMPLATES / f"{stack_cls.name}.yaml").read_bytes()


@needs_libyaml
def test_c_and_pure_emitters_agree_on_awkward_strings():
    differ = []
    for value in _strings():
        for document in _documents(value):
            if yamlio.dump(document) != yamlio.dump(document, pure=True):
                differ.append(document)
    assert not differ, f"{len(differ)} documents written differently, e.g. {differ[:3]!r}"


@needs_libyaml
@pytest.mark.parametrize("value", ["😀", "a\x85b", "a\u2028b", "\ufeff", "a\rb", "word " * 2500])
def test_strings_libyaml_writes_differently_take_the_pure_path(value):
    for document in ({"K": value}, {"K": {"Fn::Sub": value}}, {value: 1}):
        assert yamlio._libyaml_body(document) is None
        assert yamlio.dump(document) == yamlio.dump(document, pure=True)


@needs_libyaml
def test_a_keep_block_anywhere_takes_the_pure_path():
    """libyaml ends a document with "..." once it has written a "|+" block; PyYAML only when
    that block is the last thing written."""
    document = {"K": ["a\n\n", "b"]}
    assert yamlio._libyaml_body(document) is None
    assert yamlio.dump(document) == yamlio.dump(document, pure=True) == "K:\n- |+\n  a\n\n- b\n"


@needs_libyaml
@pytest.mark.parametrize("key", ["", "k" * 128, "a\rb", "a\nb"])
def test_keys_libyaml_writes_differently_take_the_pure_path(key):
    document = {"Resources": {"A": {"Properties": {key: 1}}}}
    assert yamlio._libyaml_body(document) is None
    assert yamlio.dump(document) == yamlio.dump(document, pure=True)


@needs_libyaml
@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.yaml")), ids=lambda p: p.name)
def test_c_and_pure_loaders_read_every_template_alike(path):
    text = path.read_text(encoding="utf-8")
    assert yamlio.load(text) == yamlio.load(text, pure=True)


@needs_libyaml
def test_c_and_pure_loaders_agree_where_the_pure_one_reads():
    rng = random.Random(5)
    differ = []
    for value in _strings(300):
        for document in _documents(value)[:6]:
            texts = [yamlio.dump(document, pure=True), json.dumps(document, ensure_ascii=rng.random() < 0.5),
                     f"K: {value}", f"K: '{value}'", f"- {value}"]
            for text in texts:
                try:
                    expected = yamlio.load(text, pure=True)
                except yaml.YAMLError:
                    continue  # libyaml may accept more (tabs in plain scalars), never read differently
                if yamlio.load(text) != expected:
                    differ.append(text)
    assert not differ, f"{len(differ)} documents read differently, e.g. {differ[:3]!r}"


def test_a_document_neither_parser_reads_raises_the_pure_parsers_error():
    text = "a: [1, 2\nb: c\n"
    with pytest.raises(yaml.YAMLError) as pure:
        yamlio.load(text, pure=True)
    with pytest.raises(yaml.YAMLError) as fast:
        yamlio.load(text)
    assert str(fast.value) == str(pure.value)


def test_short_forms_round_trip_on_both_paths():
    template = {"Resources": {"A": {"Type": "T", "Properties": {
        "Ref": {"Ref": "AWS::AccountId"}, "Att": {"Fn::GetAtt": ["B", "Arn"]},
        "Import": {"Fn::ImportValue": {"Fn::Sub": "${P}-x"}}, "If": {"Fn::If": ["C", "a", {"Ref": "AWS::NoValue"}]},
        "Multi": "line1\nline2\n", "Cond": {"Condition": "C"}}}}}
    for pure in (False, True):
        text = yamlio.dump(template, pure=pure)
        assert "!Ref 'AWS::AccountId'" in text and "!GetAtt B.Arn" in text
        assert yamlio.load(text, pure=pure) == template


def _intrinsic_shapes():
    """Every shape an intrinsic can take where the C path writes the short forms itself: each
    function around a string, a list, a mapping, a number, another function (all of them), and the
    forms _short leaves alone (a Condition that is not a name, a Ref that is not a string)."""
    keys = ["Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::ImportValue", "Fn::Join", "Fn::Base64",
            "Fn::Select", "Fn::Equals", "Other"]
    leaves = ["name", "a\nb\n", "x: y", ["A", "B"], ["A", {"Ref": "B"}], {"k": "v"}, {"k": {"Ref": "v"}}, 5, None,
              [], {}]
    for key in keys:
        for leaf in leaves:
            yield {key: leaf}
            for outer in keys:
                yield {outer: {key: leaf}}
                yield {outer: [{key: leaf}, "z"]}


@needs_libyaml
def test_c_path_writes_every_intrinsic_shape_as_the_pure_path():
    differ, written = [], 0
    for shape in _intrinsic_shapes():
        document = {"Resources": {"A": {"Type": "T", "Properties": {"P": shape}}}}
        try:
            pure = yamlio.dump(document, pure=True)
        except (yaml.YAMLError, TypeError, AttributeError):
            continue  # the pure path refuses it: not a template we write
        written += 1
        if yamlio.dump(document) != pure:
            differ.append(shape)
    assert written > 1000
    assert not differ, f"{len(differ)} shapes written differently, e.g. {differ[:3]!r}"
