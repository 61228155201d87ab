"""``cfn-delivery history`` and ``cfn-delivery rollback`` (registered through ``generator.cli.PLUGINS``).

Exit codes, as deploy's: 0 ok (or nothing to do, or a dry run); 1 failed (AWS refused a call, a stack or
the target is missing); 2 invalid input (unknown application or environment, bad flags; no API call made);
3 refused (no earlier good version, ``--to`` not a good version, a version that is gone, not confirmed);
130 interrupted.
"""
from __future__ import annotations

import json
import sys

from .. import paramfile, paths
from ..deploy import confirm as confirmation
from ..deploy.errors import (EXIT_OK, Refused, UsageError,
                             reported)
from ..stackmodel import DEFAULT_MAX_ATTEMPTS
from . import place as places, records, targets

DEFAULT_LIMIT = 20


def register(sub):
    p = sub.add_parser(
        "history", help="list an application's recent deployments in an environment (deployment history table)",
        description="List the deployments the pipeline recorded for an application in an environment, newest first "
                    "(the tools deployments table). Exit codes: 0 ok, 1 failed, 2 invalid input.")
    _where(p)
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help=f"at most this many records (default {DEFAULT_LIMIT})")
    p.add_argument("--json", action="store_true", help="print the records as JSON (the table's attribute names)")
    p.add_argument("--copy-from", metavar="TABLE",
                   help="copy this application's records in this environment from an earlier history table (the "
                        "one a rename left behind, docs/accounts.md) into the current one, never overwriting a "
                        "record; then list them")
    p.add_argument("--dry-run", action="store_true", help="with --copy-from: count what would be copied; write nothing")
    p.set_defaults(func=run_history)

    p = sub.add_parser(
        "rollback", help="switch an application's environment back to the previous (or a named) good version",
        description="Find the version the target runs now and the newest healthy recorded version before it (or "
                    "--to), show the switch, confirm it like deploy does (--yes skips it; a protected environment "
                    "needs the target's name typed), then start it: Beanstalk UpdateEnvironment, CodeDeploy "
                    "deployment (ecs-bluegreen), ECS UpdateService (ecs-rolling) or Lambda UpdateAlias. No "
                    "CloudFormation stack is changed. Exit codes: 0 started (or nothing to do, or --dry-run), "
                    "1 failed, 2 invalid input, 3 refused.")
    _where(p)
    p.add_argument("--to", metavar="VERSION", help="the version to switch to (a healthy recorded one; ECS: the task "
                                                   "definition ARN or family:revision)")
    p.add_argument("--yes", action="store_true", help="switch without prompting")
    p.add_argument("--dry-run", action="store_true", help="show what would be switched; change nothing")
    p.set_defaults(func=run_rollback)


def _where(p):
    p.add_argument("--app", required=True, help="application (declared in delivery.yaml)")
    p.add_argument("--env", required=True, help="environment the application runs in")
    p.add_argument("--region", help="AWS region (default: the environment's region in delivery.yaml)")
    p.add_argument("--profile", help="AWS profile (default: the environment's profile in delivery.yaml)")
    p.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                   help=f"attempts per AWS call with adaptive retries (default {DEFAULT_MAX_ATTEMPTS})")
    p.add_argument("--debug", dest="operate_debug", action="store_true", help="show tracebacks")


def _guarded(run, args, *rest) -> int:
    # Ctrl-C before the switch call changed nothing; after it, the switch runs on in AWS.
    return reported(lambda: run(args, *rest),
                    debug=getattr(args, "debug", False) or getattr(args, "operate_debug", False),
                    usage=(paths.UnknownEnvironment, paramfile.ParamFileError))  # the model does not load, or lacks it


def _place(args):
    """Everything local first (exit 2 before any client exists)."""
    if getattr(args, "limit", 1) < 1 or args.max_attempts < 1:
        raise UsageError("--limit and --max-attempts must be at least 1")
    if getattr(args, "to", None) is not None and not args.to.strip():
        raise UsageError("--to needs a version (see `cfn-delivery history`)")
    place = places.resolve(args.app, args.env)
    for env in dict.fromkeys((place.tools, place.env)):
        places.check_where(env, args.region)
    return place


def _table(place, args, clients):
    """(table name, clients) of the tools history table, the account checked."""
    tools = places.clients_for(place, place.tools, args, clients)
    places.account_of(place.tools, tools)
    return places.history_table(place, tools), tools


# -- history ---------------------------------------------------------------------------------------------------
def run_history(args, clients=None) -> int:
    return _guarded(_history, args, clients)


def _history(args, clients) -> int:
    copy_from = getattr(args, "copy_from", None)
    if copy_from is not None and not copy_from.strip():
        raise UsageError("--copy-from needs the name of the earlier history table")
    if getattr(args, "dry_run", False) and copy_from is None:
        raise UsageError("--dry-run applies to --copy-from only: history itself changes nothing")
    place = _place(args)
    table, tools = _table(place, args, clients)
    if copy_from is not None:
        if copy_from == table:
            raise UsageError(f"--copy-from {copy_from}: that is the current history table (the deployments stack's "
                             f"output); give the earlier table's name")
        copied, present = records.copy(tools.get("dynamodb"), copy_from, table, place.app.name, place.env,
                                       dry_run=args.dry_run)
        verb = "would copy" if args.dry_run else "copied"
        print(f"{verb} {copied} record(s) of {place.app.name} in {place.env} from {copy_from} into {table}; "
              f"{present} already there (never overwritten)")
        if args.dry_run:
            print("dry run: nothing was written")
            return EXIT_OK
    found = list(records.query(tools.get("dynamodb"), table, place.app.name, place.env, args.limit))
    if args.json:
        print(json.dumps(found, indent=2, sort_keys=True))
        return EXIT_OK
    where = f"{place.app.name} in {place.env}"
    if not found:
        waves = place.app.waves
        why = "" if place.env in waves else f" ({place.env} is not one of its waves, {', '.join(waves)}: the " \
                                             f"pipeline records only the waves' deployments)"
        print(f"no deployment of {where} recorded in {table}{why}")
        return EXIT_OK
    print(f"deployments of {where}, newest first ({table}):")
    for line in history_lines(found):
        print(line)
    if any(not r.get("ArtifactVersion") for r in found):
        print("-: no artifact version recorded (an older record): listed, never a rollback candidate")
    return EXIT_OK


COLUMNS = ("DEPLOYED AT", "OUTCOME", "ARTIFACT VERSION", "IMAGE DIGEST", "SOURCE VERSION", "EXECUTION ID")


def history_lines(found) -> list:
    rows = [COLUMNS] + [(records.deployed_at(r), r.get("Outcome", ""), targets.short(r.get("ArtifactVersion") or "-"),
                         _digest(r.get("ImageDigest", "")), records.source_version(r) or "-", r.get("ExecutionId", ""))
                        for r in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def _digest(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits (``--json`` has it whole)."""
    return digest[:19] if digest else "-"


# -- rollback --------------------------------------------------------------------------------------------------
def run_rollback(args, clients=None, stdin=None) -> int:
    return _guarded(_rollback, args, clients, stdin if stdin is not None else sys.stdin)


def _rollback(args, clients, stdin) -> int:
    place = _place(args)
    target_clients = places.clients_for(place, place.env, args, clients)
    account = places.account_of(place.env, target_clients)
    region = places.region_of(target_clients)
    table, tools = _table(place, args, clients)
    release = targets.for_place(place, target_clients, region)
    current = release.current()
    history = list(records.query(tools.get("dynamodb"), table, place.app.name, place.env))
    chosen = choose(history, place, current, args.to)
    version = chosen["ArtifactVersion"]
    if targets.same(current, version):
        print(f"{release.describe()} already runs {targets.short(version)}; nothing to do")
        return EXIT_OK
    release.check(version)
    print(f"rollback of {place.app.name} in {place.env} (account {account}, {region})")
    print(f"  kind:    {place.kind}")
    print(f"  target:  {release.describe()}")
    print(f"  from:    {targets.short(current) or 'unknown'} (running now)")
    print(f"  to:      {targets.short(version)} (deployed {records.deployed_at(chosen)}, execution "
          f"{chosen.get('ExecutionId', '?')}, healthy; source {records.source_version(chosen) or 'unknown'})")
    for note in release.notes():
        print(f"  note:    {note}")
    if args.dry_run:
        print("dry run: nothing was changed")
        return EXIT_OK
    if not confirmation.ask(stdin, f"roll {release.name} back to {targets.short(version)}?", yes=args.yes,
                            protected=place.config.protected, env=place.env, typed=release.name, noun=release.noun,
                            verb="roll back"):
        raise Refused(f"not confirmed: {release.name} unchanged (pass --yes to roll back without a prompt)")
    for line in release.start(version):
        print(line)
    print("no CloudFormation stack was changed; the next pipeline execution deploys its own version over this one "
          "(docs/rollback.md)")
    return EXIT_OK


def choose(history, place, current: str, wanted: str = None) -> dict:
    """The record to roll back to: ``wanted``'s (any healthy one), else the newest healthy one deployed before
    the running version's newest record (so a second rollback goes further back instead of returning to the
    version the first one left: rollbacks are not recorded); ``Refused`` (exit 3) when there is none."""
    good = [r for r in history if records.is_candidate(r, place.kind)]
    where = f"{place.app.name} in {place.env}"
    if wanted:
        for record in good:
            if targets.same(record["ArtifactVersion"], wanted):
                return record
        versions = list(dict.fromkeys(targets.short(r["ArtifactVersion"]) for r in good))
        raise Refused(f"--to {wanted}: not a version {where} deployed healthy (per the history table); nothing was "
                      f"changed; candidates, newest first: {', '.join(versions[:10]) or 'none'}")
    running = next((i for i, r in enumerate(history) if r.get("ArtifactVersion")
                    and targets.same(r["ArtifactVersion"], current)), -1)
    for record in history[running + 1:]:
        if records.is_candidate(record, place.kind) and not targets.same(record["ArtifactVersion"], current):
            return record
    raise Refused(f"no earlier good version of {where}: none of its {len(history)} record(s) before the running "
                  f"{targets.short(current) or 'version'} is healthy with an artifact version; nothing was changed "
                  f"(see `cfn-delivery history --app {place.app.name} --env {place.env}`; --to picks any healthy one)")
