"""CloudFormation YAML in and out, with short-form intrinsics and a fixed key order.

The dumper is ours (not cfn-flip's) so the bytes depend only on the template
dict: no line wrapping, no ``Fn::Join`` rewriting, canonical section order.

Speed: where PyYAML was built with libyaml (``yaml.__with_libyaml__``) the C emitter and parser
do the work; the pure-Python classes stay as the reference and the fallback. The C emitter never
calls Python's ``choose_scalar_style``, so the one choice we customise (tagged scalars plain when
plain is unambiguous) is made in the representer instead, with the same analysis; the bytes are
identical either way (tests/test_yamlio.py renders every stack both ways and compares).
"""
from __future__ import annotations

import operator
import re

import yaml

# Section and resource-attribute order CloudFormation users expect to read.
TEMPLATE_ORDER = (
    "AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters",
    "Mappings", "Conditions", "Rules", "Resources", "Outputs",
)
RESOURCE_ORDER = (
    "Type", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
    "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy", "Properties",
)

_SHORT_FORMS = {
    "Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::GetAZs", "Fn::ImportValue",
    "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Sub", "Fn::Transform",
    "Fn::And", "Fn::Equals", "Fn::If", "Fn::Not", "Fn::Or", "Fn::Length",
    "Fn::ToJsonString",
}


class _Tagged:
    """A value to be written with a YAML tag (``!Ref x``)."""

    __slots__ = ("tag", "value", "long")

    def __init__(self, tag, value, long):
        self.tag, self.value, self.long = tag, value, long


class _Dumper(yaml.SafeDumper):
    """The pure-Python dumper: the reference for the bytes (and the path without libyaml)."""

    def ignore_aliases(self, data):  # never emit &anchors: reviewers read plain YAML
        return True

    def choose_scalar_style(self):
        # PyYAML quotes every explicitly tagged scalar; "!Ref Name" reads better than "!Ref 'Name'"
        # and means the same, so tagged scalars stay plain whenever plain is unambiguous.
        event = self.event
        if (event.tag or "").startswith("!") and not event.style:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if self.analysis.allow_block_plain and self.analysis.allow_flow_plain and not self.analysis.empty:
                return ""
        return super().choose_scalar_style()


def _represent_tagged(dumper, data):
    value = data.value
    if isinstance(value, _Tagged):
        # YAML gives a node one tag: "!ImportValue !Sub x" is invalid, so the inner function
        # is written in its long form ("!ImportValue {Fn::Sub: x}"), as CloudFormation requires.
        value = {value.long: value.value}
    if isinstance(value, str):
        return dumper.represent_scalar(data.tag, value, style=dumper.tagged_style(value))
    if isinstance(value, list):
        return dumper.represent_sequence(data.tag, value)
    return dumper.represent_mapping(data.tag, value.items() if isinstance(value, dict) else value)


def _represent_str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_dict(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


# The style of a tagged scalar, as _Dumper.choose_scalar_style picks it for a block-context value:
# plain when plain is unambiguous, else single-quoted, else double-quoted. Tagged scalars are never
# mapping keys, so the simple-key rules do not apply. Cached: the same "!Ref X" recurs many times.
_TAGGED_STYLES: dict = {}
_ANALYZER = yaml.emitter.Emitter.__new__(yaml.emitter.Emitter)
_ANALYZER.allow_unicode = True  # as dump() passes it: the analysis depends on it


def _tagged_style(value: str):
    style = _TAGGED_STYLES.get(value)
    if style is None:
        analysis = _ANALYZER.analyze_scalar(value)
        if analysis.allow_block_plain and analysis.allow_flow_plain and not analysis.empty:
            style = ""
        elif analysis.allow_single_quoted:
            style = "'"
        else:
            style = '"'
        _TAGGED_STYLES[value] = style
    return style


_Dumper.tagged_style = staticmethod(lambda value: None)  # choose_scalar_style decides at emit time

# Where libyaml and PyYAML's emitter part ways (found by comparing them on generated strings):
# characters outside the Basic Multilingual Plane, NEL, LINE/PARAGRAPH SEPARATOR, BOM and other
# non-printables (libyaml escapes some PyYAML writes raw); "\r", empty and >= 128-character keys
# (simple-key rules differ); lines folded at the 10,000-column width; and a "|+" block anywhere
# (libyaml then ends the document with "...", PyYAML only when that block comes last). A template
# with any of them is written by the pure-Python emitter, so the bytes never depend on which ran.
# The node builder checks keys and strings as it meets them (no extra walk of the template).
# (Listed as the characters to refuse: a negated class over the whole of Unicode costs ~5 ms to compile.)
_WRITTEN_DIFFERENTLY = r"\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff\U00010000-\U0010ffff"
_C_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0b-\x1f" + _WRITTEN_DIFFERENTLY + "]")  # tab and line feed are fine
_C_UNSAFE_KEY = re.compile(r"[\x00-\x08\x0a-\x1f" + _WRITTEN_DIFFERENTLY + "]")  # a key: tab only
_C_MAX_KEY = 120
_C_MAX_LINE = 9_000


class _NotAlike(Exception):
    """The template holds a key or string libyaml would write differently: use the pure path."""


_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


_SAFE_KEYS: set = set()  # keys checked once: the same few hundred recur thousands of times


def _key(key, dumper):
    if type(key) is not str:
        raise _NotAlike
    if key not in _SAFE_KEYS:
        if not 0 < len(key) < _C_MAX_KEY or _C_UNSAFE_KEY.search(key):
            raise _NotAlike
        _SAFE_KEYS.add(key)
    return yaml.ScalarNode(_STR, key, style=None)  # no line break in it: never "|"


def _node(data, dumper):
    """The node the pure path makes for ``data`` (long-form intrinsics, as ``canonical`` gives it):
    what ``_short`` and the representers above make, in one walk, without the representers'
    per-object dispatch and bookkeeping (no aliases to track: ``ignore_aliases`` is always true).
    Scalars other than strings (numbers, booleans, null) go through the dumper's own representers.
    Raises _NotAlike on a key or string libyaml writes differently from PyYAML, and on shapes the
    pure path alone handles (it then writes or refuses the template)."""
    kind = type(data)
    if kind is str:
        if _C_UNSAFE_VALUE.search(data):
            raise _NotAlike
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict:
        if len(data) == 1:
            (key, inner), = data.items()
            if key in _TAGS:
                tagged = _intrinsic(key, inner, dumper)
                if tagged is not None:
                    return tagged
        return yaml.MappingNode(_MAP, [(_key(k, dumper), _node(v, dumper)) for k, v in data.items()],
                                flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_node(v, dumper) for v in data], flow_style=False)
    if isinstance(data, (str, dict, list, _Tagged)):  # subclasses, or already short: the pure path decides
        raise _NotAlike
    return dumper.represent_data(data)


#: The tag of each long-form key ``_short`` writes in short form.
_TAGS = {"Ref": "!Ref", "Condition": "!Condition", "Fn::GetAtt": "!GetAtt",
         **{key: "!" + key[4:] for key in _SHORT_FORMS}}


def _short_value(key, inner):
    """What ``_short`` makes of ``{key: inner}`` when it becomes a tagged node: (tag, value, is_short)
    where value is a string or, with is_short, a long-form value still to be shortened; None when
    ``_short`` leaves the mapping as it is."""
    if key == "Ref":
        if type(inner) is not str:
            raise _NotAlike  # _short keeps a non-string Ref's content as it is: the pure path writes it
        return "!Ref", inner, False
    if key == "Fn::GetAtt" and isinstance(inner, list) and all(isinstance(p, str) for p in inner):
        return "!GetAtt", ".".join(inner), False
    if key == "Condition":
        return ("!Condition", inner, False) if isinstance(inner, str) else None
    return _TAGS[key], inner, True


def _intrinsic(key, inner, dumper):
    """The tagged node of a long-form intrinsic ``{key: inner}`` (as _represent_tagged), or None."""
    short = _short_value(key, inner)
    if short is None:
        return None
    tag, value, is_short = short
    if not is_short:
        return _tagged_scalar(tag, value)
    if type(value) is dict and len(value) == 1:
        (key2, inner2), = value.items()
        nested = _short_value(key2, inner2) if key2 in _TAGS else None
        if nested is not None:
            # YAML gives a node one tag: the inner function is written in its long form, its value
            # shortened ("!ImportValue {Fn::Sub: x}"), as _represent_tagged does.
            _, value2, is_short2 = nested
            if not is_short2 and (type(value2) is not str or _C_UNSAFE_VALUE.search(value2)):
                raise _NotAlike
            node2 = _node(value2, dumper) if is_short2 else yaml.ScalarNode(
                _STR, value2, style="|" if "\n" in value2 else None)
            return yaml.MappingNode(tag, [(_key(key2, dumper), node2)], flow_style=False)
    if type(value) is str:
        return _tagged_scalar(tag, value)
    if type(value) is list:
        return yaml.SequenceNode(tag, [_node(v, dumper) for v in value], flow_style=False)
    if type(value) is dict:
        return yaml.MappingNode(tag, [(_key(k, dumper), _node(v, dumper)) for k, v in value.items()],
                                flow_style=False)
    raise _NotAlike  # a number or null inside a function, a str subclass: the pure path decides


def _tagged_scalar(tag, value):
    if type(value) is not str or _C_UNSAFE_VALUE.search(value):
        raise _NotAlike
    return yaml.ScalarNode(tag, value, style=_tagged_style(value))


if yaml.__with_libyaml__:
    class _CDumper(yaml.CSafeDumper):
        """libyaml's emitter; same representers, tagged-scalar style decided up front."""

        tagged_style = staticmethod(_tagged_style)

        def ignore_aliases(self, data):
            return True

        def represent(self, data):  # BaseRepresenter.represent, with the fast node builder
            self.serialize(_node(data, self))
            self.represented_objects = {}
            self.object_keeper = []
            self.alias_key = None

        def resolve(self, kind, value, implicit):
            # libyaml's serializer asks this twice per scalar; only the implicit-tag question runs
            # regular expressions, and its answer depends on the string alone (no path resolvers).
            if self.yaml_path_resolvers:  # pragma: no cover - none are registered
                return super().resolve(kind, value, implicit)
            if kind is yaml.ScalarNode:
                if not implicit[0]:
                    return _STR
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = _RESOLVED[value] = super().resolve(kind, value, implicit)
                return tag
            return _SEQ if kind is yaml.SequenceNode else _MAP

        # The serializer also calls these around every node (~50,000 calls a render); they only track
        # the path for path resolvers, which are never registered. Builtins that take the same
        # arguments and do nothing cost a third of a Python no-op (a builtin is not bound to self).
        descend_resolver = operator.is_  # (parent, index)
        ascend_resolver = tuple  # ()

    _RESOLVED: dict = {}
else:  # pragma: no cover - PyYAML built without libyaml
    _CDumper = None

for _cls in (_Dumper, _CDumper):
    if _cls is not None:
        _cls.add_representer(_Tagged, _represent_tagged)
        _cls.add_representer(str, _represent_str)
        _cls.add_representer(dict, _represent_dict)


def _ordered(mapping, order):
    known = [k for k in order if k in mapping]
    rest = [k for k in mapping if k not in order]
    return {k: mapping[k] for k in known + rest}


def _short(value):
    """Turn long-form intrinsics into tagged short forms, recursively."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "Ref":
                return _Tagged("!Ref", inner, key)
            if key == "Fn::GetAtt" and isinstance(inner, list) and all(isinstance(p, str) for p in inner):
                return _Tagged("!GetAtt", ".".join(inner), key)
            if key in _SHORT_FORMS or key == "Fn::GetAtt":
                return _Tagged("!" + key[4:], _short(inner), key)
            if key == "Condition" and isinstance(inner, str):
                return _Tagged("!Condition", inner, key)
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def canonical(template: dict) -> dict:
    """The template with sections and resource attributes in canonical order."""
    out = _ordered(template, TEMPLATE_ORDER)
    if "Resources" in out:
        out["Resources"] = {k: _ordered(v, RESOURCE_ORDER) for k, v in out["Resources"].items()}
    return out


def _emit(data, dumper) -> str:
    return yaml.dump(data, Dumper=dumper, default_flow_style=False, sort_keys=False, width=10_000,
                     allow_unicode=True)


def _libyaml_body(data):
    """``data`` (long-form intrinsics: the node builder writes the short forms) written by libyaml,
    or None where that could differ from the pure-Python emitter (see _C_UNSAFE_VALUE)."""
    if _CDumper is None:
        return None
    try:
        body = _emit(data, _CDumper)
    except _NotAlike:
        return None
    if body.endswith("\n...\n") or max(map(len, body.splitlines()), default=0) >= _C_MAX_LINE:
        return None
    return body


def dump(template: dict, header: str = "", pure: bool = False) -> str:
    """The template as YAML text; ``pure=True`` forces the pure-Python emitter (same bytes)."""
    data = canonical(template)
    body = None if pure else _libyaml_body(data)
    return header + (body if body is not None else _emit(_short(data), _Dumper))


class _Loader(yaml.SafeLoader):
    """The pure-Python loader: the reference (and the path without libyaml)."""


def _construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + suffix: value}


# CloudFormation keeps "on"/"yes" as strings and 0777 as a number; YAML 1.1 timestamps stay strings.
_RESOLVERS = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

if yaml.__with_libyaml__:
    class _CLoader(yaml.CSafeLoader):
        """libyaml's parser; the constructors and resolvers are the same Python ones."""
else:  # pragma: no cover - PyYAML built without libyaml
    _CLoader = None

for _cls in (_Loader, _CLoader):
    if _cls is not None:
        _cls.add_multi_constructor("!", _construct_tag)
        _cls.yaml_implicit_resolvers = _RESOLVERS


def load(text: str, pure: bool = False) -> dict:
    """Parse CloudFormation YAML (or JSON) into long-form intrinsics.

    libyaml parses when available; whatever PyYAML's pure-Python parser reads, it reads the same
    (tests/test_yamlio.py). On a document libyaml refuses, the pure-Python parser has the last
    word, so error messages stay PyYAML's. libyaml is the more lenient of the two in one respect:
    it accepts tabs inside plain scalars (as YAML 1.2 does), which the pure parser refuses."""
    if not pure and _CLoader is not None:
        try:
            return yaml.load(text, Loader=_CLoader)  # noqa: S506 - CSafeLoader subclass
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def load_file(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return load(handle.read())
