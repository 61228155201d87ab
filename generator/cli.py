"""The ``cfn-delivery`` command line.

Each subcommand has its own ``--help``; the deploy and review packages register theirs
(``register(subparsers, params_subparsers)``) and keep their logic to themselves. They are
listed in ``PLUGINS`` and imported only when the command line can name one of their commands.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import budget, model, paramfile, paramgen, paths, registry, render

EXIT_USAGE = 2

#: Subcommands other packages register: module -> (the commands it adds, whether its
#: ``register`` also takes the ``params`` sub-parser). A module is imported only when the
#: command line names one of its commands, or names none we know (help, a typo, a command
#: added to a module but not listed here): ``templates`` and ``stacks`` never load boto3 or the
#: deploy/review/integ code. ``params`` gets actions from deploy (overrides) and review (diff).
PLUGINS = {
    "generator.platforms": (("platforms",), False),          # current Beanstalk platform ARNs
    "generator.deploy.main": (("deploy", "params"), True),   # deploy through change sets
    "generator.review.cli": (("diff", "diagram", "params"), True),  # diff, params diff, diagram
    "generator.integ.cli": (("integ",), True),               # real-account end-to-end check
    "generator.operate.cli": (("history", "rollback"), False),  # deployment history, one-command rollback
    "generator.localserver": (("local-server",), False),     # the local CloudFormation server of the tests
    "generator.publish": (("publish",), False),               # the infrastructure bundle (infrastructure: pipeline)
}
CORE_COMMANDS = ("templates", "params", "stacks")


def cmd_templates(args) -> int:
    # Every stack is built once per command; the parameter files and the pipeline diagrams are drawn
    # from the template dicts just rendered (never by parsing the YAML files again).
    current = model.current()
    paramgen.check(current)  # a model problem writes nothing (exit 2)
    if args.check:
        templates = {}
        problems = render.stale(args.out, templates=templates)
        if not args.out:  # the parameter files and diagrams follow the templates
            problems += paramgen.stale(current)
            from .review import diagram
            problems += diagram.stale(readme=paths.root() / "README.md", templates=templates)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("templates or parameter files are stale: run `make templates` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(registry.stacks())} templates and their parameter files up to date")
        return 0
    stack_names = list(args.stack or [])
    if args.app:
        stack_names += [s.name for app in args.app for s in registry.for_application(app)]
    results = render.write(stack_names or None, args.out)
    for result in results:
        state = "wrote" if result.changed else "unchanged"
        warn = "  (over the 51,200-byte inline limit!)" if result.size > render.MAX_TEMPLATE_BYTES else ""
        print(f"{state:9} {paramfile.display(result.path)}  {result.size:>6} bytes{warn}")
    for line in registry.boundary_imports(current):  # renders, but will not deploy (docs/accounts.md)
        print(f"warning: {line}")
    if not args.out:
        for path, state in paramgen.write(current):
            if state != "unchanged" or not stack_names:
                print(f"{state:9} {paramfile.display(path)}")
    if not args.out and not stack_names:  # pipeline diagrams follow the templates they draw
        from .review import diagram
        templates = {result.stack: result.template for result in results}
        for path, state in diagram.write(readme=paths.root() / "README.md", templates=templates):
            print(f"{state:9} {paramfile.display(path)}")
    return 0


def validate_params(envs, stacks, warnings=None) -> list:
    """Problems (one line each) across the parameter files of ``envs`` x ``stacks``: exactly the checks
    ``deploy`` runs before its first API call (``deploy.checks.local_checks``), plus files of stacks the
    environment does not deploy. Placeholder warnings are appended to ``warnings`` when given."""
    from .deploy import checks, plan as planning

    problems = []
    for env in envs:
        try:
            stack_classes = planning.order(env, stacks or None)
            checked = checks.local_checks(env, stack_classes)
        except paramfile.ParamFileError as err:
            problems.extend(err.problems)
        else:
            if warnings is not None:
                warnings.extend(checked.warnings())
        known = {s.name for s in registry.for_environment(env)}
        folder = paths.params_dir() / env
        for extra in sorted(folder.glob("*.json")):
            if extra.stem not in known:
                problems.append(f"{paramfile.display(extra)}: no stack '{extra.stem}' is deployed in '{env}'; "
                                f"known for {env}: {', '.join(sorted(known))}")
    return problems


def cmd_params_validate(args) -> int:
    envs = [paths.check_environment(args.env)] if args.env else paths.environments()
    stacks = [registry.get(s).name for s in args.stack] if args.stack else []
    warnings = []
    problems = validate_params(envs, stacks, warnings)
    for warning in warnings:
        print(warning)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_USAGE
    print(f"parameter files valid for: {', '.join(envs)}"
          + (f" ({len(warnings)} placeholder warning(s): replace them in delivery.yaml before deploying a "
             f"protected environment)" if warnings else ""))
    return 0


def cmd_stacks(args) -> int:
    envs = [paths.check_environment(args.env)] if args.env else paths.environments()
    for env in envs:
        print(f"{env}: {' -> '.join(s.name for s in registry.deploy_order(env))}")
    return 0


def _command(argv):
    """The subcommand ``argv`` names (its first word that is not an option), or None."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def _plugins_for(argv) -> list:
    """The plugin modules a parser for ``argv`` needs (every one when ``argv`` is None)."""
    command = None if argv is None else _command(argv)
    known = {c for commands, _ in PLUGINS.values() for c in commands} | set(CORE_COMMANDS)
    if command is None or command not in known:
        return list(PLUGINS)
    return [module for module, (commands, _) in PLUGINS.items() if command in commands]


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The ``cfn-delivery`` parser; given ``argv``, only the subcommands it can name are
    registered (see PLUGINS), which keeps ``templates`` from importing what only deploy needs."""
    parser = argparse.ArgumentParser(
        prog="cfn-delivery",
        description="Generate hardened CloudFormation for delivery pipelines and deploy it through change sets.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for expected errors")
    parser.add_argument("--model", metavar="PATH",
                        help="the model file (default: delivery.yaml at the project root, or $CFN_DELIVERY_MODEL)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("templates", help="render every stack to templates/<stack>.yaml",
                       description="Render stacks to templates/<stack>.yaml (deterministic; commit the result).")
    p.add_argument("--stack", action="append", help="render only this stack (repeatable)")
    p.add_argument("--app", action="append", help="render only this application's stacks (repeatable)")
    p.add_argument("--out", help="output folder (default: templates/)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when templates/ is stale")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser("params", help="parameter files: validate them against the templates",
                       description="Work with params/<env>/<stack>.json files.")
    psub = p.add_subparsers(dest="params_command", metavar="ACTION")
    psub.required = True
    v = psub.add_parser("validate", help="check parameter files against their templates (exit 2 on a problem)")
    v.add_argument("--env", help="only this environment (default: every environment of delivery.yaml)")
    v.add_argument("--stack", action="append", help="only this stack (repeatable)")
    v.set_defaults(func=cmd_params_validate)

    p = sub.add_parser("stacks", help="list the stacks of each environment in deploy order")
    p.add_argument("--env", help="only this environment")
    p.set_defaults(func=cmd_stacks)

    for name in _plugins_for(argv):
        module = importlib.import_module(name)
        if PLUGINS[name][1]:
            module.register(sub, psub)
        else:
            module.register(sub)

    return parser


def main(argv=None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    import os

    chosen = os.environ.get(model.MODEL_ENV)
    if args.model:
        model.use(args.model)
    if argv is None:  # the process's entry point
        _freeze_alive()
    try:
        return args.func(args)
    except (registry.UnknownStack, paths.UnknownEnvironment, paramfile.ParamFileError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except budget.OverBudget as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:  # an in-process caller keeps its own model choice
        if chosen is None:
            os.environ.pop(model.MODEL_ENV, None)
        else:
            os.environ[model.MODEL_ENV] = chosen
        if argv is None:  # the process's entry point: its objects die with it
            _freeze_alive()


def _freeze_alive():
    """Exempt every object alive now from the cyclic collector (``gc.freeze``). Called by the console
    entry point only (``argv`` None; an in-process caller keeps its collector as it was): once after
    the imports, whose objects live as long as the process, so the full collections a render triggers
    do not walk them again and again; and once at the end, so the interpreter's final collection does
    not walk what is about to be freed anyway. Together ~15 % of a cold ``templates`` run."""
    import gc

    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
