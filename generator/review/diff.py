"""The semantic diff of two parsed templates of one stack.

Resources are matched by logical id and compared attribute by attribute (``Properties``
paths without a prefix, other attributes by name: ``DeletionPolicy``, ``DependsOn``...).
Values are compared by meaning (see ``values.normal``): a change only in formatting or key
order is no change. For each modification the resource schemas decide replacement; risk
flags come from ``risks``. A removed and an added resource of the same type with
(near-)identical content are reported as a logical-id rename.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..stackmodel import KEEPING_POLICIES
from . import replacement as repl
from . import risks
from .resolve import absent_resources, conditions, pick_branches
from .values import is_intrinsic, is_statement, key, normal, same, show

RESOURCE_ATTRIBUTES = ("Type", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
                       "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy", "Properties")
#: Template sections compared entry by entry besides Resources, Parameters and Outputs.
OTHER_SECTIONS = ("AWSTemplateFormatVersion", "Transform", "Description", "Metadata",
                  "Mappings", "Conditions", "Rules")
#: Parameter attributes whose change can break an existing parameter file or a deploy.
PARAMETER_RISK_KEYS = ("Default", "Type", "AllowedValues", "AllowedPattern", "MinValue",
                       "MaxValue", "MinLength", "MaxLength")
RENAME_SIMILARITY = 0.8
#: Parameter values whose change deserves a reviewer's attention beyond "value changed".
VALUE_NOTES = {
    "PlatformArn": "platform: the Elastic Beanstalk environment moves to another platform version "
                   "(updated in place, instances replaced per its DeploymentPolicy); try it in staging first",
}


class _ChangedPaths:
    """The changed property paths, in order of first appearance."""

    @property
    def properties(self):
        return list(dict.fromkeys(v.path for v in self.values))


@dataclass
class ValueChange:
    path: str
    old: object
    new: object


@dataclass
class ResourceChange(_ChangedPaths):
    stack: str
    logical_id: str
    type: str
    change: str  # add / remove / modify
    replacement: object = False  # True / False / "conditional"
    values: list = field(default_factory=list)
    risks: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class EntryChange(_ChangedPaths):
    """A change to a parameter, output or other template section entry."""
    stack: str
    section: str
    name: str
    change: str  # add / remove / modify / value
    values: list = field(default_factory=list)
    risks: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class StackDiff:
    stack: str
    status: str = "modified"  # added / removed / modified / unchanged
    resources: list = field(default_factory=list)
    parameters: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    other: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.resources or self.parameters or self.outputs or self.other)

    def all_changes(self):
        return [*self.resources, *self.parameters, *self.outputs, *self.other]


# -- value walking -----------------------------------------------------------------

def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return path + part
    return f"{path}.{part}" if path else part


def _keyed(items, field_name):
    """{selector: item} when every item has a unique selector, else None. ``field_name`` is a
    key of the items (``[Sid=x]``) or a function giving an item's selector (or None)."""
    if callable(field_name):
        names = [field_name(i) for i in items]
        if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            return None
        return dict(zip(names, items))
    if not all(isinstance(i, dict) and isinstance(i.get(field_name), str) for i in items):
        return None
    names = [i[field_name] for i in items]
    if len(set(names)) != len(names):
        return None
    return {f"[{field_name}={n}]": i for n, i in zip(names, items)}


def _option_key(item):
    """An Elastic Beanstalk option setting by ``Namespace:OptionName`` (and its ``ResourceName``,
    which scheduled actions use), the way the console and the EB CLI name it."""
    if not (isinstance(item, dict) and isinstance(item.get("Namespace"), str) and isinstance(item.get("OptionName"), str)):
        return None
    resource = item.get("ResourceName")
    return f"[{item['Namespace']}:{item['OptionName']}" + (f" ({_plain(resource)})" if resource is not None else "") + "]"


def _plain(value) -> str:
    return value if isinstance(value, str) else show(value)


def _statement_key(item):
    """A policy statement by ``Sid``, or by its effect and actions when it has none."""
    if not is_statement(item):
        return None
    if isinstance(item.get("Sid"), str) and item["Sid"]:
        return f"[Sid={item['Sid']}]"
    for name in ("Action", "NotAction"):
        if name in item:
            actions = item[name] if isinstance(item[name], list) else [item[name]]
            text = ",".join(sorted(dict.fromkeys(_plain(a) for a in actions)))
            effect = "" if item.get("Effect") == "Allow" else f"{_plain(item.get('Effect'))} "
            return f"[{effect}{name}={text}]"
    return None


def _pair_leftovers(old_by: dict, new_by: dict) -> dict:
    """Statements without a Sid whose actions changed: pair the one old and the one new statement
    that share effect and resources, so the change shows as its ``Action`` rather than two blobs."""
    gone = [k for k in old_by if k not in new_by]
    came = [k for k in new_by if k not in old_by]
    pairs = {}
    for k in gone:
        if k.startswith("[Sid="):
            continue
        twins = [n for n in came if not n.startswith("[Sid=")
                 and normal(old_by[k].get("Effect")) == normal(new_by[n].get("Effect"))
                 and same(old_by[k].get("Resource"), new_by[n].get("Resource"), "Resource")
                 and same(old_by[k].get("NotResource"), new_by[n].get("NotResource"), "NotResource")]
        if len(twins) == 1:
            pairs[k] = twins[0]
    # only unambiguous pairs: one old statement per new one
    return {k: n for k, n in pairs.items() if list(pairs.values()).count(n) == 1}


_LIST_KEYS = {"Statement": _statement_key, "Tags": "Key", "Policies": "PolicyName", "Stages": "Name",
              "Actions": "Name", "OptionSettings": _option_key}


#: Keys whose list value is a set: a difference is reported for the whole list.
_SET_KEYS = ("Action", "NotAction", "Resource", "NotResource", "DependsOn")
#: Keys whose list value is a set of objects: differences are reported element by element.
_ELEMENT_SET_KEYS = ("Statement", "Tags", "SecurityGroupIngress", "SecurityGroupEgress")


def walk(old, new, path: str = "", parent: str = "") -> list:
    """Leaf-most paths where ``old`` and ``new`` differ in meaning."""
    if same(old, new, parent):
        return []
    if parent == "Statement" and isinstance(old, dict) != isinstance(new, dict) and old is not None and new is not None:
        old, new = (old if isinstance(old, list) else [old]), (new if isinstance(new, list) else [new])
    if is_statement(old) and is_statement(new):
        nold, nnew = normal(old), normal(new)
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            if nold.get(k) == nnew.get(k):
                continue
            if k in ("Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"):
                out.append(ValueChange(_join(path, k), old.get(k), new.get(k)))
            else:
                out.extend(walk(old.get(k), new.get(k), _join(path, k), k))
        return out
    if isinstance(old, dict) and isinstance(new, dict) and not is_intrinsic(old) and not is_intrinsic(new):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            out.extend(walk(old.get(k), new.get(k), _join(path, k), k))
        return out
    if isinstance(old, list) and isinstance(new, list) and parent not in _SET_KEYS:
        selector = _LIST_KEYS.get(parent)
        if selector:
            old_by, new_by = _keyed(old, selector), _keyed(new, selector)
            if old_by is not None and new_by is not None:
                paired = _pair_leftovers(old_by, new_by) if parent == "Statement" else {}
                out = []
                for k in list(old_by) + [k for k in new_by if k not in old_by]:
                    if k in paired:  # shown under the new statement's name
                        out.extend(walk(old_by[k], new_by[paired[k]], path + paired[k], ""))
                    elif k not in paired.values():
                        out.extend(walk(old_by.get(k), new_by.get(k), path + k, ""))
                return out
        if parent in _ELEMENT_SET_KEYS:  # a set of rules/statements/tags: what left, what came
            old_n = {key(normal(e)): e for e in old}
            new_n = {key(normal(e)): e for e in new}
            return [ValueChange(path, e, None) for k, e in old_n.items() if k not in new_n] + \
                   [ValueChange(path, None, e) for k, e in new_n.items() if k not in old_n]
        if len(old) == len(new):
            out = []
            for i, (a, b) in enumerate(zip(old, new)):
                out.extend(walk(a, b, f"{path}[{i}]", ""))
            return out
    return [ValueChange(path, old, new)]


# -- resources ------------------------------------------------------------------

def _attributes(resource: dict) -> dict:
    return {k: resource[k] for k in RESOURCE_ATTRIBUTES if k in resource} | \
        {k: v for k, v in resource.items() if k not in RESOURCE_ATTRIBUTES}


def _resource_values(old: dict, new: dict) -> list:
    changes = []
    old_attrs, new_attrs = _attributes(old), _attributes(new)
    for attr in list(old_attrs) + [k for k in new_attrs if k not in old_attrs]:
        if attr == "Properties":
            changes.extend(walk(old.get("Properties") or {}, new.get("Properties") or {}, "", ""))
        else:
            changes.extend(walk(old.get(attr), new.get(attr), attr, attr))
    return changes


def _property_paths(before: dict, after: dict) -> list:
    """Changed paths inside ``Properties`` only (a property may be called ``Type`` too)."""
    return [c.path for c in walk(before.get("Properties") or {}, after.get("Properties") or {}, "", "")]


def _flatten(value, path=""):
    if isinstance(value, dict) and not is_intrinsic(value):
        for k, v in value.items():
            yield from _flatten(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{path}[{i}]")
    else:
        yield path, key(value)


def similarity(a: dict, b: dict) -> float:
    """Share of (path, value) leaves two resources have in common (1.0: identical)."""
    left, right = set(_flatten(normal(a))), set(_flatten(normal(b)))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def _risks_and_notes(rtype, change, replacement, old_props, new_props, resource_old, resource_new=None):
    """Risk flags and their explanations for one resource change."""
    flags, notes = [], []
    # stateful as deploy's protection guard sees it (generator.stackmodel): by type, or by a
    # DeletionPolicy that keeps the resource, in the old or the new template
    stateful = (risks.is_stateful(rtype) or risks.is_stateful_resource(resource_old)
                or risks.is_stateful_resource(resource_new))
    if stateful and (change == "remove" or replacement in (True, repl.CONDITIONAL)):
        flags.append(risks.DATA_LOSS)
        attrs = resource_old or {}
        policy = attrs.get("DeletionPolicy") if change == "remove" else attrs.get("UpdateReplacePolicy")
        what = "removed" if change == "remove" else ("replaced" if replacement is True else "may be replaced")
        if isinstance(policy, str) and policy in KEEPING_POLICIES:
            notes.append(f"data-loss: stateful resource {what}; {policy} keeps the old one outside the stack")
        else:
            notes.append(f"data-loss: stateful resource {what}; its data is deleted")
    findings = risks.access_findings(rtype, old_props, new_props) + \
        risks.retention_findings(rtype, old_props, new_props)
    for finding in findings:
        if finding.risk not in flags:
            flags.append(finding.risk)
        notes.append(f"{finding.risk}: {finding.message}")
    return flags, notes


def _order(flags):
    return [f for f in risks.FLAGS if f in flags]


def diff_resources(stack: str, old: dict, new: dict) -> list:
    old, new = old or {}, new or {}
    changes = {}
    removed = [lid for lid in old if lid not in new]
    added = [lid for lid in new if lid not in old]
    for lid in old:
        if lid not in new:
            continue
        before, after = old[lid], new[lid]
        values = _resource_values(before, after)
        if not values:
            continue
        rtype = after.get("Type", before.get("Type"))
        if before.get("Type") != after.get("Type"):
            replacement, reasons = repl.TRUE, [f"type changed from {before.get('Type')}"]
        else:
            replacement, reasons = repl.decide(rtype, before.get("Properties") or {}, after.get("Properties") or {},
                                               _property_paths(before, after))
        flags, notes = _risks_and_notes(rtype, "modify", replacement, before.get("Properties") or {},
                                        after.get("Properties") or {}, before, after)
        notes = [f"replacement: {r}" for r in reasons] + notes
        changes[lid] = ResourceChange(stack, lid, rtype, "modify", replacement, values, _order(flags), notes)

    # logical-id renames: a removed and an added resource of one type with (nearly) the same content
    pairs = []
    for r in removed:
        for a in added:
            if old[r].get("Type") == new[a].get("Type"):
                score = similarity(old[r], new[a])
                if score >= RENAME_SIMILARITY:
                    pairs.append((-score, r, a))
    renamed = {}
    for _score, r, a in sorted(pairs):
        if r not in renamed and a not in renamed.values():
            renamed[r] = a
    renamed_from = {a: r for r, a in renamed.items()}

    for lid in removed:
        resource = old[lid]
        rtype = resource.get("Type")
        to = renamed.get(lid)
        props = resource.get("Properties") or {}
        # a renamed resource's access moves to its new id: analysed there, old against new
        flags, notes = _risks_and_notes(rtype, "remove", False, props, None if not to else props, resource)
        if to:
            flags.append(risks.RENAME)
            notes.insert(0, f"rename: logical id renamed to {to}; CloudFormation deletes {lid} and creates {to}")
        changes[lid] = ResourceChange(stack, lid, rtype, "remove", False, [], _order(flags), notes)
    for lid in added:
        resource = new[lid]
        rtype = resource.get("Type")
        source = renamed_from.get(lid)
        before_props = (old[source].get("Properties") or {}) if source else None
        flags, notes = _risks_and_notes(rtype, "add", False, before_props, resource.get("Properties") or {}, None)
        values = []
        if source:
            flags.append(risks.RENAME)
            values = _resource_values(old[source], resource)
            notes.insert(0, f"rename: logical id renamed from {source}; a new physical resource replaces it")
        changes[lid] = ResourceChange(stack, lid, rtype, "add", False, values, _order(flags), notes)
    order = list(old) + [lid for lid in new if lid not in old]
    return [changes[lid] for lid in order if lid in changes]


# -- parameters, outputs, other sections ---------------------------------------------

def diff_parameters(stack: str, old: dict, new: dict, old_values=None, new_values=None) -> list:
    old, new = old or {}, new or {}
    out = []
    for name in list(old) + [n for n in new if n not in old]:
        before, after = old.get(name), new.get(name)
        if before is None:
            entry = EntryChange(stack, "Parameters", name, "add", [], [risks.PARAMETER],
                                ["parameter: new parameter" + ("" if "Default" in after else " without a default: every parameter file must set it")])
        elif after is None:
            entry = EntryChange(stack, "Parameters", name, "remove", [], [risks.PARAMETER],
                                ["parameter: removed; parameter files that set it are rejected"])
        else:
            values = walk(before, after, "", "")
            if not values:
                entry = None
            else:
                keys = {v.path.split(".")[0].split("[")[0] for v in values}
                flagged = sorted(keys & set(PARAMETER_RISK_KEYS), key=PARAMETER_RISK_KEYS.index)
                notes = [f"parameter: {', '.join(flagged)} changed"] if flagged else []
                entry = EntryChange(stack, "Parameters", name, "modify", values,
                                    [risks.PARAMETER] if flagged else [], notes)
        if entry:
            out.append(entry)
    if old_values is not None and new_values is not None:
        for name in new:
            secret = str((new[name] or {}).get("NoEcho", "")).lower() == "true"  # never shown
            if name in old_values and name in new_values and str(old_values[name]) != str(new_values[name]) \
                    and str(old_values[name]) != "****" and not secret:
                note = VALUE_NOTES.get(name)
                out.append(EntryChange(stack, "Parameters", name, "value",
                                       [ValueChange("Value", old_values[name], new_values[name])],
                                       [risks.PARAMETER] if note else [], [note] if note else []))
    return out


def _export(output):
    if isinstance(output, dict) and isinstance(output.get("Export"), dict):
        return output["Export"].get("Name")
    return None


def diff_outputs(stack: str, old: dict, new: dict) -> list:
    old, new = old or {}, new or {}
    out = []
    new_exports = {key(normal(_export(v))): n for n, v in new.items() if _export(v) is not None}
    for name in list(old) + [n for n in new if n not in old]:
        before, after = old.get(name), new.get(name)
        if before is None:
            out.append(EntryChange(stack, "Outputs", name, "add"))
            continue
        export = _export(before)
        if after is None:
            flags, notes = [], []
            if export is not None:
                moved = new_exports.get(key(normal(export)))
                if moved:
                    notes.append(f"export kept: now output {moved}")
                else:
                    flags.append(risks.OUTPUT)
                    notes.append("output: export removed; CloudFormation refuses the update while a stack imports it")
            out.append(EntryChange(stack, "Outputs", name, "remove", [], flags, notes))
            continue
        values = walk(before, after, "", "")
        if values:
            flags, notes = [], []
            if export is not None and not same(export, _export(after)):
                flags.append(risks.OUTPUT)
                notes.append("output: export renamed or removed; stacks importing the old name break")
            out.append(EntryChange(stack, "Outputs", name, "modify", values, flags, notes))
    return out


def diff_sections(stack: str, old: dict, new: dict) -> list:
    out = []
    for section in OTHER_SECTIONS:
        before, after = old.get(section), new.get(section)
        if same(before, after):
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            for name in list(before) + [n for n in after if n not in before]:
                if name not in after:
                    out.append(EntryChange(stack, section, name, "remove"))
                elif name not in before:
                    out.append(EntryChange(stack, section, name, "add"))
                else:
                    values = walk(before[name], after[name], "", "")
                    if values:
                        out.append(EntryChange(stack, section, name, "modify", values))
        else:
            change = "add" if before is None else "remove" if after is None else "modify"
            values = [] if change != "modify" else [ValueChange("", before, after)]
            out.append(EntryChange(stack, section, section, change, values))
    return out


def diff_templates(stack: str, old: dict, new: dict, old_values=None, new_values=None) -> StackDiff:
    """Compare two parsed templates (``None``: the stack does not exist on that side)."""
    status = "added" if old is None else "removed" if new is None else "modified"
    old, new = old or {}, new or {}
    result = StackDiff(stack, status)
    # with known parameter values, a resource whose Condition is false does not exist on that side
    gone_old = absent_resources(old, old_values) if old_values is not None else {}
    gone_new = absent_resources(new, new_values) if new_values is not None else {}
    old_resources = {k: v for k, v in (old.get("Resources") or {}).items() if k not in gone_old}
    new_resources = {k: v for k, v in (new.get("Resources") or {}).items() if k not in gone_new}
    # and an Fn::If whose condition is decided is the branch CloudFormation takes
    if old_values is not None:
        old_resources = pick_branches(old_resources, conditions(old, old_values))
    if new_values is not None:
        new_resources = pick_branches(new_resources, conditions(new, new_values))
    result.resources = diff_resources(stack, old_resources, new_resources)
    for change in result.resources:
        if change.change == "add" and change.logical_id in gone_old:
            change.notes.insert(0, f"condition: {gone_old[change.logical_id]} was false, is true now: created")
        elif change.change == "remove" and change.logical_id in gone_new:
            change.notes.insert(0, f"condition: {gone_new[change.logical_id]} is false now: deleted")
    if status == "modified":  # a new or removed stack is reported by its resources (and lost exports)
        result.parameters = diff_parameters(stack, old.get("Parameters"), new.get("Parameters"), old_values, new_values)
        result.other = diff_sections(stack, old, new)
    if status != "added":
        result.outputs = [o for o in diff_outputs(stack, old.get("Outputs"), new.get("Outputs"))
                          if status == "modified" or o.risks]
    if status == "modified" and not result.changed:
        result.status = "unchanged"
    return result


def flags_of(diffs) -> list:
    found = {flag for d in diffs for change in d.all_changes() for flag in change.risks}
    return [f for f in risks.FLAGS if f in found]
