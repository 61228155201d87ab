"""Subcommands ``diff``, ``params diff`` and ``diagram`` (registered by ``generator.cli``)."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import paramfile, paths, registry, yamlio
from . import check, diagram, formats, in_use, params_diff, risks, sources
from .diff import diff_templates, flags_of
from .resolve import resolve
from .sources import ReviewError

EXIT_USAGE = 2
EXIT_RISK = 3
FORMATS = ("text", "markdown", "json")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _unexpected(err: Exception) -> str:
    message = " ".join(str(err).split())
    return (f"cannot diff these templates ({type(err).__name__}: {message}); check that both are valid "
            f"CloudFormation templates (rerun with --debug for the traceback)")


def _load_file(path: str, parameters: str = None) -> dict:
    """A template file, parsed, shape-checked and its ``Fn::ForEach`` expanded (with the values of the
    parameter file ``parameters``, else the defaults): every problem is one line naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ReviewError(f"{path}: file not found")
    except IsADirectoryError:
        raise ReviewError(f"{path}: is a directory, not a template file")
    except OSError as err:
        raise ReviewError(f"{path}: cannot read: {err.strerror or err}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ReviewError(f"{path}: not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                          f"CloudFormation templates are UTF-8: re-save the file as UTF-8")
    try:
        template = yamlio.load(text)
    except Exception as err:
        raise ReviewError(f"{path}: not a valid YAML/JSON template ({' '.join(str(err).split())})")
    values = None
    if parameters and isinstance(template, dict) and isinstance(template.get("Parameters") or {}, dict):
        values = _file_values(template, parameters)
    try:
        return check.check(template, values)
    except check.TemplateError as err:
        raise ReviewError(f"{path}: {err}")


def _file_values(template: dict, path: str) -> dict:
    """The parameter values a deploy of ``template`` with the parameter file at ``path`` uses
    (the file's ``Parameters``, else the template's defaults)."""
    from ..stackmodel.parameters import effective_parameters

    data = paramfile.load(path)
    given = data.get("Parameters") or {}
    if not isinstance(given, dict):
        raise ReviewError(f"{path}: \"Parameters\" must be an object of parameter names and values")
    return effective_parameters(template, given)


FILE_MODE_OPTIONS = ("base", "env", "stack", "stack_name", "region", "profile", "endpoint_url")


def _compare(args) -> tuple:
    """(diffs, base label, target label) for the chosen mode."""
    if args.files:
        given = [f"--{o.replace('_', '-')}" for o in FILE_MODE_OPTIONS if getattr(args, o)]
        if given:
            raise ReviewError(f"{', '.join(given)} cannot be combined with template files: two files are compared "
                              f"as given (name the stack with --name); drop the files to compare stacks")
        if len(args.files) != 2:
            raise ReviewError(f"give two template files (BEFORE AFTER), got {len(args.files)}")
        before, after = args.files
        name = args.name or Path(after).stem
        old_file, new_file = args.base_parameters or args.parameters, args.parameters or args.base_parameters
        old, new = _load_file(before, old_file), _load_file(after, new_file)
        if not (args.parameters or args.base_parameters):
            return [diff_templates(name, old, new)], before, after
        # parameter files: values substituted and conditions evaluated on both sides, as --env does
        old_values, new_values = _file_values(old, old_file), _file_values(new, new_file)
        return [diff_templates(name, resolve(old, old_values), resolve(new, new_values), old_values, new_values)], \
            before, after
    for option in ("parameters", "base_parameters"):
        if getattr(args, option):
            raise ReviewError(f"--{option.replace('_', '-')} applies to two template files; with --env the "
                              f"parameter files of params/<env>/ are used")
    if args.name:
        raise ReviewError("--name labels a file-to-file diff; it needs two template files")
    wanted = [registry.get(s).name for s in args.stack] if args.stack else None
    if args.env:
        if args.base:
            raise ReviewError("--base compares with git, --env with a deployed stack: choose one")
        env = paths.check_environment(args.env)
        deployed_here = [s.name for s in registry.for_environment(env)]
        stacks = wanted or deployed_here
        for stack in stacks:
            if stack not in deployed_here:
                raise ReviewError(f"stack '{stack}' is not deployed in '{env}'; stacks there: {', '.join(deployed_here)}")
        if args.stack_name and len(stacks) != 1:
            raise ReviewError("--stack-name names one deployed stack: give exactly one --stack with it")
        client = sources.cloudformation_client(args.region, args.profile, args.endpoint_url)
        current = sources.working_templates(stacks)
        diffs, names = [], []
        for stack in stacks:
            name = args.stack_name or sources.stack_name(env, stack, current[stack])
            names.append(name)
            template, values, described = sources.deployed(name, client)
            wanted_values = sources.file_values(env, stack, current[stack])
            # parameter values substituted on both sides: a changed value that renames a
            # resource shows up as the replacement it causes
            diff = diff_templates(stack, resolve(template, values), resolve(current[stack], wanted_values),
                                  values, wanted_values)
            sources.ask(name, in_use.flag, diff, client, described, template, values, current[stack], wanted_values)
            diffs.append(diff)
        return diffs, f"deployed {', '.join(names)}", f"working tree (params/{env}/)"
    for option in ("stack_name", "region", "profile", "endpoint_url"):
        if getattr(args, option):
            raise ReviewError(f"--{option.replace('_', '-')} applies to a deployed stack: add --env ENV")
    rev = args.base or "HEAD"
    commit = sources.check_revision(rev)
    base_names = sources.git_template_names(commit)
    current_names = registry.names()
    stacks = wanted or current_names + [n for n in base_names if n not in current_names]
    current = sources.working_templates([s for s in stacks if s in current_names])
    diffs = [diff_templates(stack, sources.git_template(commit, stack) if stack in base_names else None,
                            current.get(stack)) for stack in stacks]
    return diffs, f"{rev} ({commit[:12]})", "working tree"


def cmd_diff(args) -> int:
    try:
        fail_on = risks.parse_flags(args.fail_on) if args.fail_on else []
        diffs, base, target = _compare(args)
    except (ReviewError, ValueError, registry.UnknownStack, paths.UnknownEnvironment) as err:
        if args.debug:
            raise
        return _error(str(err))
    except paramfile.ParamFileError as err:
        return _error(str(err).splitlines()[0])
    except Exception as err:  # a template shape the checks missed: one line, never a traceback
        if args.debug:
            raise
        return _error(_unexpected(err))
    try:
        text = formats.render(args.format, diffs, base, target, formats.use_colour(sys.stdout))
    except Exception as err:
        if args.debug:
            raise
        return _error(_unexpected(err))
    sys.stdout.write(text)
    hit = [f for f in flags_of(diffs) if f in fail_on]
    if hit:
        print(f"--fail-on: found {', '.join(hit)}", file=sys.stderr)
        return EXIT_RISK
    return 0


def cmd_params_diff(args) -> int:
    try:
        result = params_diff.compare(args.env_a, args.env_b, args.stack or ())
    except (ReviewError, registry.UnknownStack, paths.UnknownEnvironment) as err:
        if args.debug:
            raise
        return _error(str(err))
    except paramfile.ParamFileError as err:
        return _error(str(err).splitlines()[0])
    render = {"text": params_diff.as_text, "markdown": params_diff.as_markdown, "json": params_diff.as_json}
    sys.stdout.write(render[args.format](result, args.env_a, args.env_b))
    return 0


def cmd_diagram(args) -> int:
    out = Path(args.out) if args.out else None
    readme = None if args.no_readme else paths.root() / "README.md"
    if args.check:
        problems = diagram.stale(out, readme)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("pipeline diagrams are stale: run `make templates`", file=sys.stderr)
            return 1
        print("pipeline diagrams up to date")
        return 0
    results = diagram.write(out, readme)
    for path, state in results:
        print(f"{state:9} {paramfile.display(path)}")
    if not results:
        print("no pipeline templates: nothing to draw")
    return 0


def register(sub, psub) -> None:
    p = sub.add_parser(
        "diff", help="what a change does to each stack: resources added/modified/removed, replacements, risks",
        description="Compare the templates rendered from the working tree with a git revision's templates/ "
                    "(default HEAD), with deployed stacks (--env), or compare two template files. "
                    "Exit 3 when a --fail-on flag is found, 2 on a usage error, else 0.")
    p.add_argument("files", nargs="*", metavar="FILE", help="two template files to compare (BEFORE AFTER)")
    p.add_argument("--base", metavar="REV", help="git revision whose templates/ is the base (default: HEAD)")
    p.add_argument("--env", help="compare with the stacks deployed in this environment")
    p.add_argument("--stack", action="append", help="only this stack (repeatable)")
    p.add_argument("--stack-name", help="deployed stack name (default: {project}-{env}-{stack})")
    p.add_argument("--region", help="AWS region of the deployed stack")
    p.add_argument("--profile", help="AWS profile to read the deployed stack with")
    p.add_argument("--endpoint-url", help="CloudFormation endpoint (e.g. a local test server)")
    p.add_argument("--parameters", metavar="FILE",
                   help="with two template files: parameter file ({\"Parameters\": {...}}) of the AFTER template "
                        "(and of BEFORE unless --base-parameters); values are substituted and conditions evaluated")
    p.add_argument("--base-parameters", metavar="FILE", help="with two template files: parameter file of the BEFORE template")
    p.add_argument("--name", help="stack label for a file-to-file diff (default: the second file's name)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--fail-on", metavar="FLAGS",
                   help=f"comma-separated risk flags that make the command exit 3: {', '.join(risks.FLAGS)}")
    p.set_defaults(func=cmd_diff)

    d = psub.add_parser("diff", help="parameter values that differ between two environments",
                        description="Show, per stack, the parameter values (and stack tags) of params/<env-a>/ "
                                    "and params/<env-b>/ that differ; template defaults fill unset values.")
    d.add_argument("env_a", metavar="ENV_A")
    d.add_argument("env_b", metavar="ENV_B")
    d.add_argument("--stack", action="append", help="only this stack (repeatable)")
    d.add_argument("--format", choices=FORMATS, default="text")
    d.set_defaults(func=cmd_params_diff)

    g = sub.add_parser("diagram", help="draw each pipeline template as a Mermaid flowchart in docs/",
                       description="Write docs/pipeline-<stack>.md for every template with an "
                                   "AWS::CodePipeline::Pipeline and refresh the README's diagram section.")
    g.add_argument("--out", help="output folder (default: docs/)")
    g.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 when the diagrams are stale")
    g.set_defaults(func=cmd_diagram)
