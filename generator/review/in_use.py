"""``export-in-use``: the diff against a deployed stack flags an export that the update removes,
renames or gives another value while another stack imports it: "You can't modify or remove an
output value that is referenced by another stack"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html);
CloudFormation finds out only once the update runs, then rolls it back.

Which exports change and who imports them is the stack model's (:mod:`generator.stackmodel.exports`,
the same check deploy refuses with): exports changed as written (after parameters), and exports
whose value refers to a resource this diff replaces or removes; ListImports names the importers.
"""
from __future__ import annotations

from ..stackmodel import exports
from . import replacement as repl
from . import risks
from .diff import EntryChange, StackDiff


def _replaced(diff: StackDiff) -> dict:
    """Logical id -> what the update does to it, for resources that get a new physical id."""
    found = {}
    for change in diff.resources:
        if change.change == "remove":
            found[change.logical_id] = "removed"
        elif change.change == "modify" and change.replacement in (repl.TRUE, repl.CONDITIONAL):
            found[change.logical_id] = "replaced" if change.replacement is repl.TRUE else "may be replaced"
    return found


def flag(diff: StackDiff, cfn, stack: dict, deployed_template: dict, deployed_values: dict, template: dict,
         values: dict) -> None:
    """Add ``export-in-use`` to ``diff``'s output entries (creating a ``value`` entry for an output
    whose text is unchanged but whose resource is replaced). ``stack``: DescribeStacks entry of the
    deployed stack; the templates are as written, ``values`` their parameter values."""
    if not any(o.get("ExportName") for o in stack.get("Outputs") or []):
        return
    changes = exports.changed_exports(stack, deployed_template, deployed_values, template, values)
    changes += exports.replaced_exports(stack, template, _replaced(diff))
    for change, users in exports.imported_by(cfn, changes):
        entry = next((o for o in diff.outputs if o.name == change.output), None)
        if not users:  # known safe: say so where the diff shows the export changing
            if entry is not None:
                entry.notes.append(f"imports: no stack imports export '{change.name}' (ListImports)")
            continue
        if entry is None:
            entry = EntryChange(diff.stack, "Outputs", change.output, "value")
            diff.outputs.append(entry)
        entry.risks = [f for f in risks.FLAGS if f in entry.risks or f == risks.EXPORT_IN_USE]
        entry.notes.append(
            f"export-in-use: export '{change.name}' {change.what} but {', '.join(users)} "
            f"import{'s' if len(users) == 1 else ''} it; CloudFormation refuses this update (it fails and rolls "
            f"back): deploy the importing stacks without that Fn::ImportValue first, or keep the export and its value")
    if diff.status == "unchanged" and diff.changed:
        diff.status = "modified"
