"""``cfn-delivery deploy``: validate, create a change set, show it, guard, execute, watch.

Exit codes: 0 deployed / no changes / dry run; 1 the deployment failed (or AWS refused a
call, or another deployment of the stack got there first); 2 invalid input (no API call made), a
reviewed change set that no longer matches, or an export another stack imports
(``export-in-use``); 3 refused (protected-environment guard, a stack
its application's pipeline updates: ``owned``, or no confirmation); 4 outcome unknown
(contact lost after the execution started: it continues in CloudFormation, resume with
``--watch``); 130 Ctrl-C (before execution: nothing changed; while watching: the operation
continues in CloudFormation).

Every change set this run creates is owned by one cleanup path (:class:`changeset.Owned`): any
error or interrupt before it is executed deletes it (and the empty stack of a CREATE).
"""
from __future__ import annotations

import sys
import time

from .. import paramfile, paths, registry, stackmodel
from . import changeset, checks, identity, owned, plan as planning, protect, reviewed, show, watch
from . import confirm as confirmation
from ..stackmodel import DEFAULT_MAX_ATTEMPTS, Clients, Target, exports
from .errors import (EXIT_OK, EXIT_USAGE, DeployError, Interrupted, OutcomeUnknown,
                     Refused, UsageError, one_line, reported)

HEALTHY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
           "IMPORT_ROLLBACK_COMPLETE"}
DEFAULT_POLL_SECONDS = 5.0


def register(sub, params_sub=None):
    """Add ``deploy`` (and ``params overrides``) to the ``cfn-delivery`` parser."""
    p = sub.add_parser(
        "deploy", help="deploy stacks through reviewed change sets",
        description="Deploy params/<env>/<stack>.json with templates/<stack>.yaml through a CloudFormation "
                    "change set: validate (exit 2, no API call), skip identical stacks, show the change set, "
                    "guard protected environments, execute and stream events. Exit codes: 0 ok / no changes, "
                    "1 failed (or protection could not be repaired, or another deployment of the stack ran first), "
                    "2 invalid input (or a reviewed change set that no longer matches, or an export in use), "
                    "3 refused, 4 outcome unknown (contact lost while executing: resume with --watch), "
                    "130 interrupted.")
    p.add_argument("--env", action="append", help="environment (declared in delivery.yaml); repeat it to deploy "
                                                   "every stack of several environments in plan order")
    p.add_argument("--all-environments", action="store_true",
                   help="every stack of every environment of delivery.yaml: print the plan, then deploy it in order")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stack", help="the stack to deploy ('all' = every stack of the environment)")
    which.add_argument("--all", action="store_true", help="every stack of the environment, in dependency order")
    p.add_argument("--region", help="AWS region (default: the environment's region in delivery.yaml, then AWS_REGION / profile)")
    p.add_argument("--profile", help="AWS profile (default: the environment's profile in delivery.yaml, then AWS_PROFILE)")
    p.add_argument("--endpoint-url", help="CloudFormation/S3 endpoint of a local server (tests)")
    p.add_argument("--yes", action="store_true", help="execute without prompting")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="create the change set, show it, delete it")
    mode.add_argument("--no-execute", action="store_true", help="create and show the change set; leave it for review")
    mode.add_argument("--watch", action="store_true",
                      help="follow the stack's running operation (after Ctrl-C) instead of deploying")
    mode.add_argument("--execute-change-set", metavar="NAME",
                      help="execute the change set NAME left by --no-execute, after checking it still matches "
                           "the local template, parameters and tags (exit 2 when not, nothing deleted)")
    p.add_argument("--execution-role", action="store_true",
                   help="outside tools, run each stack's change sets with the environment's CloudFormation execution "
                        "role (the ExecutionRoleArn output of its bootstrap stack, docs/accounts.md); refused "
                        "(exit 3) when the bootstrap stack is not deployed")
    p.add_argument("--s3-bucket", help="bucket to upload templates through (needed over 51,200 bytes)")
    p.add_argument("--allow-replacement", action="store_true",
                   help="in a protected environment, allow replacing or removing stateful resources")
    p.add_argument(owned.OVERRIDE_FLAG, dest="include_pipeline_owned", action="store_true",
                   help="also deploy stacks an application's pipeline updates (infrastructure: pipeline), which "
                        "deploy otherwise refuses (--stack, exit 3) or skips (--all): break-glass; a stack not "
                        "created yet is created without it (docs/infrastructure.md)")
    p.add_argument("--replace-failed", action="store_true",
                   help="delete and recreate a stack whose first create failed (ROLLBACK_COMPLETE / REVIEW_IN_PROGRESS)")
    p.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS,
                   help=f"delay between status polls (default {DEFAULT_POLL_SECONDS:g})")
    p.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                   help=f"attempts per AWS call with adaptive retries (default {DEFAULT_MAX_ATTEMPTS})")
    p.add_argument("--debug", dest="deploy_debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)

    if params_sub is not None:
        o = params_sub.add_parser(
            "overrides", help="print a parameter file as AWS CLI --parameter-overrides (or --tags) values",
            description="Validate params/<env>/<stack>.json, then print its values as a JSON list of Key=Value "
                        "strings, which any AWS CLI reads: aws cloudformation deploy --parameter-overrides "
                        "file://overrides.json (AWS CLI v2 also reads the parameter file itself).")
        o.add_argument("--env", required=True)
        o.add_argument("--stack", required=True)
        o.add_argument("--tags", action="store_true", help="print the stack tags instead (file tags + Project, "
                                                            "Environment, ManagedBy)")
        o.set_defaults(func=overrides)
    return p


def overrides(args) -> int:
    """``cfn-delivery params overrides``: the parameter file as ``["Key=Value", ...]``."""
    import json

    try:
        env = paths.check_environment(args.env)
        stack = planning.order(env, [registry.get(args.stack).name])
        if not stack:
            raise UsageError(f"stack '{args.stack}' is not deployed in environment '{env}'")
        p = planning.build(env, stack[0])
    except (paramfile.ParamFileError, registry.UnknownStack, paths.UnknownEnvironment, UsageError) as err:
        if getattr(args, "debug", False):
            raise
        for line in str(err).splitlines():
            _err(line)
        return EXIT_USAGE
    values = p.tags if args.tags else p.params.parameters
    print(json.dumps([f"{k}={v}" for k, v in values.items()]))
    return EXIT_OK


def _err(message: str):
    print(f"error: {message}", file=sys.stderr)


def run(args, clients: Clients = None, stdin=None) -> int:
    """Entry point of the subcommand (``clients`` and ``stdin`` are injectable for tests)."""
    def deploy():
        if _across_environments(args):
            return run_plan(args, clients, stdin or sys.stdin)
        return _run(args, clients, stdin or sys.stdin)

    return reported(deploy, debug=getattr(args, "debug", False) or getattr(args, "deploy_debug", False),
                    usage=(paramfile.ParamFileError, registry.UnknownStack, paths.UnknownEnvironment),
                    note=changeset.cleanup_note)


def _stacks(args, env):
    if args.all or args.stack == "all":
        if args.watch:
            raise UsageError("--watch follows one stack: give --stack <name>")
        if args.execute_change_set:
            raise UsageError("--execute-change-set executes one stack's change set: give --stack <name>")
        return planning.order(env)
    registry.get(args.stack)  # unknown stack: clear error listing the known ones
    found = planning.order(env, [args.stack])
    if not found:
        known = ", ".join(s.name for s in registry.for_environment(env))
        raise UsageError(f"stack '{args.stack}' is not deployed in environment '{env}'; stacks of {env}: {known}")
    return found


def _across_environments(args) -> bool:
    """Normalise ``--env`` (a list) and say whether this is a plan across environments; a single
    ``--env`` leaves ``args.env`` a name and needs ``--stack`` or ``--all``."""
    envs = args.env if isinstance(args.env, list) else ([args.env] if args.env else [])
    if getattr(args, "all_environments", False) or len(envs) > 1:
        if getattr(args, "all_environments", False) and envs:
            raise UsageError("--all-environments deploys every environment: drop --env")
        if args.stack not in (None, "all"):
            raise UsageError("a plan across environments deploys every stack: drop --stack")
        if args.watch or args.execute_change_set:
            raise UsageError("--watch and --execute-change-set act on one stack: give --env and --stack")
        args.env = envs
        return True
    if not envs:
        raise UsageError("give --env <environment> (or --all-environments)")
    if not args.stack and not args.all:
        raise UsageError("give --stack <name> or --all")
    args.env = envs[0]
    return False


def run_plan(args, clients, stdin) -> int:
    """``--all-environments`` / ``--env a --env b``: print the plan across environments (``registry.plan``),
    check every stack of it locally (exit 2 before any API call), then deploy it in that order. A dry
    run skips a stack whose prerequisites only this plan would create (they do not exist yet)."""
    from .. import model as model_module

    names = model_module.current().environment_names
    envs = [paths.check_environment(e) for e in args.env] if args.env else list(names)
    if args.poll_seconds < 0 or args.max_attempts < 1:
        raise UsageError("--poll-seconds must be >= 0 and --max-attempts >= 1")
    order = registry.plan(envs)
    print(f"plan: {len(order)} stack(s) across {', '.join(e for e in names if e in envs)}, in this order:")
    width = len(str(len(order)))
    model = model_module.current()
    for i, (env, cls) in enumerate(order, 1):
        e = model.environment(env)
        account = f"account {e.account}" if e.account else "the credentials' account"
        region = args.region or e.region or model.project.region or "the default region"
        print(f"  {i:>{width}}. {env}:{cls.name}  ({account}, {region})")
    checked, problems = {}, []
    for env in envs:
        try:
            checked[env] = _local_checks(args, env, [cls for e, cls in order if e == env])
        except paramfile.ParamFileError as err:
            problems.extend(err.problems)
    if problems:
        raise paramfile.ParamFileError(problems)
    for env in envs:
        identity.check_region(env, args.region)
    plans = {(p.env, p.stack): p for c in checked.values() for p in c.plans}
    revision = planning.git_revision()
    deployers = {}

    def deployer_for(env):
        config = checked[env].config
        key = (args.region or config.region, args.profile or config.profile)
        if key not in deployers:
            env_clients = clients or Clients(Target(region=key[0], profile=key[1], endpoint_url=args.endpoint_url,
                                                    max_attempts=args.max_attempts))
            deployers[key] = Deployer(args, env_clients, revision, stdin)
        return deployers[key]

    for env in envs:  # every account before the first change
        _check_account(env, deployer_for(env).clients)
    in_plan = {f"{env}:{cls.name}" for env, cls in order}
    done, in_run, skipped, left = set(), {env: set() for env in envs}, [], []
    for i, (env, cls) in enumerate(order):
        p = plans[(env, cls.name)]
        deployer = deployer_for(env)
        if deployer.leave_to_pipeline(p):
            left.append(f"{env}:{cls.name}")
            continue
        if deployer.skip_in_dry_run(p, in_plan, "plan"):
            skipped.append(f"{env}:{cls.name}")
            continue
        code = deployer.deploy(p, in_run[env])
        if code != EXIT_OK:
            rest = [f"{e}:{c.name}" for e, c in order[i + 1:]]
            if rest:
                print(f"stopped: {', '.join(rest)} not deployed")
            return code
        in_run[env].add(cls.name)
        done.add(f"{env}:{cls.name}")
    summary = f"plan done: {len(done)} of {len(order)} stack(s)"
    if skipped:
        summary += f"; {len(skipped)} skipped in the dry run (their prerequisites are not deployed yet)"
    print(summary)
    if left:
        print(owned.summary(left))
    return EXIT_OK


def _local_checks(args, env, stack_classes):
    """The checks of ``params validate`` (``checks.local_checks``), refusing placeholders in a protected
    environment unless nothing is deployed (``--dry-run``, ``--watch``); warnings go to stdout."""
    deploying = not (args.dry_run or args.watch)
    checked = checks.local_checks(env, stack_classes, args.s3_bucket, deploying=deploying)
    for line in checked.warnings():
        print(line)
    return checked


def _check_account(env, clients):
    account = identity.check_account(env, clients)
    if account:
        print(f"account {account}: the credentials in use are environment '{env}''s (delivery.yaml)")


def _run(args, clients, stdin) -> int:
    # 1. everything local first: no client is constructed before this block passes
    env = paths.check_environment(args.env)
    if args.poll_seconds < 0 or args.max_attempts < 1:
        raise UsageError("--poll-seconds must be >= 0 and --max-attempts >= 1")
    if args.execute_change_set and args.replace_failed:
        raise UsageError("--replace-failed deletes the stack, and its change sets with it: it cannot be combined "
                         "with --execute-change-set")
    stack_classes = _stacks(args, env)
    checked = _local_checks(args, env, stack_classes)
    identity.check_region(env, args.region)
    config, plans = checked.config, checked.plans
    revision = planning.git_revision()

    # 2. AWS: the account first
    if clients is None:
        clients = Clients(Target(region=args.region or config.region, profile=args.profile or config.profile,
                                 endpoint_url=args.endpoint_url, max_attempts=args.max_attempts))
    _check_account(env, clients)
    deployer = Deployer(args, clients, revision, stdin)
    if args.watch:
        return deployer.watch_only(plans[0])
    if args.execute_change_set:
        return deployer.execute_reviewed(plans[0], args.execute_change_set)
    in_run, skipped, left = set(), [], []
    in_env = {f"{env}:{p.stack}" for p in plans} if len(plans) > 1 else set()
    for p in plans:
        if deployer.leave_to_pipeline(p):
            left.append(p.stack)
            continue
        if deployer.skip_in_dry_run(p, in_env, "run"):
            skipped.append(p.stack)
            continue
        code = deployer.deploy(p, in_run)
        if code != EXIT_OK:
            if len(plans) > 1:
                rest = [q.stack for q in plans[plans.index(p) + 1:]]
                if rest:
                    print(f"stopped: {', '.join(rest)} not deployed")
            return code
        in_run.add(p.stack)
    if skipped:
        print(f"{'dry run' if args.dry_run else '--no-execute run'} done: {len(plans) - len(skipped)} of {len(plans)} stack(s) "
              f"checked with a change set; {len(skipped)} skipped ({', '.join(skipped)}): their prerequisites in "
              f"{env} are not deployed yet, so CloudFormation could not resolve their imports")
    if left:
        print(owned.summary(left))
    return EXIT_OK


class Deployer:
    def __init__(self, args, clients, revision, stdin):
        self.args = args
        self.clients = clients
        self.revision = revision
        self.stdin = stdin
        self.delay = args.poll_seconds
        self.color = sys.stdout.isatty()
        self._roles = {}  # bootstrap stack name -> its ExecutionRoleArn (execution_role())

    @property
    def cfn(self):
        return self.clients.cfn

    def _resume_hint(self, p) -> str:
        return f"cfn-delivery deploy --env {p.env} --stack {p.stack} --watch"

    # -- checks on the server ---------------------------------------------------
    def leave_to_pipeline(self, p) -> bool:
        """``True``: skip ``p``, a created stack its application's pipeline updates, in a run over several
        stacks (its line printed); the same stack named by ``--stack`` is refused (exit 3). Decided before
        any change set; a stack not created yet is deployed (the pipeline cannot create it), and so is any
        with ``--include-pipeline-owned`` (``owned``)."""
        app = owned.owner(p)
        if app is None:
            return False
        if getattr(self.args, "include_pipeline_owned", False):
            print(owned.break_glass(p, app))
            return False
        if not owned.created(changeset.describe_stack(self.cfn, p.stack_name)):
            print(owned.first_creation(p, app, dry_run=getattr(self.args, "dry_run", False)))
            return False
        if getattr(self.args, "stack", None) not in (None, "all"):
            raise Refused(owned.refusal(p, app))
        print(owned.skipped(p, app))
        return True

    def check_requirements(self, p, in_run):
        for req in p.requires:
            req_env, _, req_stack = req.rpartition(":")
            req_env = req_env or p.env
            if req_env != p.env:
                from .. import model as model_module

                crossing = registry.boundary(model_module.current(), p.env, req_env)
                if crossing:
                    raise UsageError(f"{p.stack_name} imports from {req_env}:{req_stack} across {crossing}; "
                                     f"CloudFormation exports resolve only within one account and Region "
                                     f"({registry.IMPORT_VALUE_DOC}), so it cannot deploy there yet (docs/accounts.md)")
            if req_env == p.env and req_stack in in_run and not (self.args.dry_run or self.args.no_execute):
                continue
            name = stackmodel.stack_name(p.project, req_env, req_stack)
            stack = changeset.describe_stack(self.cfn, name)
            if stack is None or stack["StackStatus"] not in HEALTHY:
                state = "does not exist" if stack is None else f"is {stack['StackStatus']}"
                raise DeployError(f"{p.stack_name} requires {req_env}:{req_stack}, but stack {name} {state}; "
                                  f"{self.missing_chain_hint(p, req_env, req_stack, in_run)}")

    def skip_in_dry_run(self, p, in_this_run, what) -> bool:
        """``--dry-run``/``--no-execute`` over several stacks: a stack whose missing prerequisites are all
        deployed earlier by this run cannot get a change set yet (its imports do not exist); say so and
        skip it. A prerequisite outside the run still fails the stack (deploy it first)."""
        if not (self.args.dry_run or self.args.no_execute) or not in_this_run:
            return False
        missing = registry.missing_chain(p.env, p.stack, self.deployed(p.project))
        if missing and all(node in in_this_run for node in missing):
            print(f"== {p.env}/{p.stack}: skipped in this dry run: needs {', '.join(missing)}, which this {what} "
                  f"deploys first")
            return True
        return False

    def deployed(self, project, in_run=()):
        """A container of ``env:stack`` answering "is it healthy on the server?" (asked lazily, cached)."""
        return _OnServer(self, project, in_run)

    def missing_chain_hint(self, p, req_env, req_stack, in_run) -> str:
        """What to deploy first: the whole chain of missing prerequisites, in deploy order."""
        deployed = self.deployed(p.project)
        try:
            chain = registry.missing_chain(req_env, req_stack, deployed) + [f"{req_env}:{req_stack}"]
        except (registry.UnknownStack, paramfile.ParamFileError):
            chain = [f"{req_env}:{req_stack}"]
        if len(chain) == 1:
            return f"deploy it first: cfn-delivery deploy --env {req_env} --stack {req_stack}"
        steps = ", then ".join(f"cfn-delivery deploy --env {e} --stack {s}"
                               for e, _, s in (node.partition(":") for node in chain))
        envs = sorted({node.partition(":")[0] for node in chain} | {p.env})
        return (f"the whole chain is missing; deploy, in this order: {' -> '.join(chain)} ({steps}), or all at "
                f"once: cfn-delivery deploy {' '.join('--env ' + e for e in envs)}")

    def stack_state(self, p, described=None):
        """``(change_set_type, stack)`` after handling the states that block a deployment
        (``described``: the stack as already described, to save a call)."""
        stack = described or changeset.describe_stack(self.cfn, p.stack_name)
        if stack is None:
            return "CREATE", None
        status = stack["StackStatus"]
        if status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
            why = ("its first create failed and was rolled back; CloudFormation cannot update it, only delete it"
                   if status == "ROLLBACK_COMPLETE" else
                   "it was never created (a CREATE change set was left unexecuted, e.g. by --no-execute)")
            kept = watch.retained(watch.last_operation(self.cfn, p.stack_name)) if status == "ROLLBACK_COMPLETE" else []
            kept_text = ", ".join(watch.describe_kept(e) for e in kept)
            if not self.args.replace_failed:
                holds = (f"its rollback kept {kept_text} (DeletionPolicy Retain): they exist outside the stack and "
                         f"stay when it is deleted" if kept else "it holds no resources to keep")
                raise DeployError(f"stack {p.stack_name} is {status}: {why}; rerun with --replace-failed to delete "
                                  f"and recreate it ({holds})")
            clashes = planning.name_clashes(p, stack, kept)
            if clashes:
                raise DeployError(
                    f"stack {p.stack_name} is {status} and its failed create kept {kept_text} (DeletionPolicy "
                    f"Retain); the new stack would create {', '.join(clashes)} under the same name and fail; delete "
                    f"{'it' if len(clashes) == 1 else 'them'} by hand if {'it is' if len(clashes) == 1 else 'they are'}"
                    f" not needed (or give the template another name), then rerun with --replace-failed; nothing was "
                    f"deleted")
            print(f"stack {p.stack_name} is {status}: {why}; deleting it (--replace-failed)")
            if kept:
                print(f"note: the failed create kept {kept_text} (DeletionPolicy Retain); they stay outside any "
                      f"stack after this delete; the new stack does not reuse their names")
            self.cfn.delete_stack(StackName=p.stack_name)
            self.cfn.get_waiter("stack_delete_complete").wait(
                StackName=p.stack_name, WaiterConfig={"Delay": self.delay, "MaxAttempts": self._attempts(1800)})
            print(f"stack {p.stack_name} deleted; creating it again")
            return "CREATE", None
        if status == "UPDATE_ROLLBACK_FAILED":
            raise DeployError(
                f"stack {p.stack_name} is UPDATE_ROLLBACK_FAILED: a rollback could not finish (a resource changed "
                f"outside CloudFormation or a dependency is gone); fix the cause shown in the stack events, then run "
                f"`aws cloudformation continue-update-rollback --stack-name {p.stack_name}` "
                f"(add --resources-to-skip <LogicalId> for resources that cannot roll back) and deploy again")
        if status in ("ROLLBACK_FAILED", "DELETE_FAILED"):
            raise DeployError(
                f"stack {p.stack_name} is {status}: CloudFormation could not clean it up; see the stack events, fix "
                f"or remove the blocking resources, then `aws cloudformation delete-stack --stack-name {p.stack_name}`"
                f" and deploy again")
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(
                f"stack {p.stack_name} is {status}: another operation is running; follow it with "
                f"`{self._resume_hint(p)}` and deploy again when it has finished")
        return "UPDATE", stack

    def _attempts(self, seconds):
        return max(1, int(seconds / max(self.delay, 0.1)))

    # -- the deployment -----------------------------------------------------------
    def where(self, p) -> str:
        """``account <id>, region <name>`` the stack goes to (the account as the model names it, which
        ``identity.check_account`` compared with the credentials before the first CloudFormation call)."""
        region = self.cfn.meta.region_name
        if p.config.account is None:
            return f"the credentials' account, region {region}"  # the model names no account for it
        return f"account {p.config.account}, region {region}"

    def execution_role(self, p):
        """With ``--execution-role``, the bootstrap stack's ``ExecutionRoleArn`` in ``p``'s environment
        (``None`` for tools and the bootstrap stacks themselves, deployed by an administrator)."""
        from .. import model as model_module

        if not getattr(self.args, "execution_role", False):
            return None
        from .. import registry

        model = model_module.current()
        if p.env == model.tools or p.stack == "bootstrap" or getattr(registry.get(p.stack), "bootstrap", False):
            return None  # the bootstrap stacks (bootstrap, bootstrap-away) are an administrator's
        name = stackmodel.stack_name(p.project, p.env, "bootstrap")
        if name not in self._roles:
            stack = stackmodel.describe_stack(self.cfn, name)
            outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
            if "ExecutionRoleArn" not in outputs:
                raise Refused(f"--execution-role: {name} is not deployed (or has no ExecutionRoleArn output); "
                              f"deploy it first: cfn-delivery deploy --env {p.env} --stack bootstrap")
            self._roles[name] = outputs["ExecutionRoleArn"]
        print(f"execution role: {self._roles[name]}")
        return self._roles[name]

    def deploy(self, p, in_run) -> int:
        print(f"== {p.env}/{p.stack}: stack {p.stack_name} in {self.where(p)}")
        self.check_requirements(p, in_run)
        cs_type, stack = self.stack_state(p)
        deployed_stateful = {}
        if stack is not None:
            differences = changeset.difference(self.cfn, p, stack)
            if not differences:
                print(f"no changes: {p.stack_name} already runs this template, parameters and tags "
                      f"(no change set created)")
                return self.verify_protection(p, stack)
            print(f"differs from the deployed stack in: {'; '.join(differences)}")
            deployed_stateful = self._deployed_stateful(p)
            self.check_exports(p, stack)
        template_arg = changeset.template_argument(p, self.clients, self.args.s3_bucket)
        name = changeset.new_name(self.revision)
        created = cs_type == "CREATE"
        with changeset.Owned(self.cfn, p.stack_name, name, created, self.delay) as owned:
            owned.change_set_id = changeset.create(self.cfn, p, cs_type, name, self.revision, template_arg,
                                                   role_arn=self.execution_role(p))
            owned.created = True
            print(f"change set {name} ({cs_type}) created; waiting for it")
            result = changeset.wait(self.cfn, p.stack_name, name, self.delay)
            if result["Status"] == "FAILED":
                reason = result.get("StatusReason") or "no reason given"
                if changeset.is_no_changes(reason):
                    owned.discard()
                    print(f"no changes: {p.stack_name} is up to date (change set deleted)")
                    return self.verify_protection(p, stack) if stack is not None else EXIT_OK
                raise DeployError(f"change set for {p.stack_name} failed: {' '.join(reason.split())}")
            detail = changeset.describe(self.cfn, p.stack_name, name)
            owned.change_set_id = detail.get("ChangeSetId") or owned.change_set_id
            stateful_ids = set(p.stateful) | set(deployed_stateful)
            rows = show.rows(detail, stateful_ids)
            print(show.table(rows, color=self.color))
            risky = [r for r in rows if r.risk]
            if stack is not None:
                self.check_export_replacements(p, stack, rows)

            if self.args.dry_run:
                note = owned.discard()
                print(f"dry run: {note}; {p.stack_name} unchanged")
                return EXIT_OK
            if p.config.protected and risky and not self.args.allow_replacement:
                raise Refused(
                    f"refusing to replace or remove stateful resources in protected environment '{p.env}': "
                    f"{', '.join(r.logical_id for r in risky)} (data-loss risk); nothing was changed; rerun with "
                    f"--allow-replacement if the data loss is intended")
            if self.args.no_execute:
                owned.keep()
                print(f"change set left for review: cfn-delivery deploy --env {p.env} --stack {p.stack} "
                      f"--execute-change-set {name}  (checks it still matches, then executes it; or aws "
                      f"cloudformation execute-change-set --stack-name {p.stack_name} --change-set-name {name}, or "
                      f"delete-change-set)")
                return EXIT_OK
            if not self.confirm(p, name):
                raise Refused(f"not confirmed: {p.stack_name} unchanged (pass --yes to execute without a prompt)")
            return self.execute(p, name, stack, bool(risky), owned)

    def execute_reviewed(self, p, name) -> int:
        """``--execute-change-set``: re-check the reviewed change set against the local plan, show it,
        guard, confirm, execute it with the same protection and event streaming as a deploy. A refusal
        or error before execution (mismatch, guard, no confirmation, a failed protection step, Ctrl-C)
        deletes nothing: the change set stays for review."""
        print(f"== {p.env}/{p.stack}: stack {p.stack_name}, reviewed change set {name}")
        self.leave_to_pipeline(p)
        self.check_requirements(p, set())
        stack = changeset.describe_stack(self.cfn, p.stack_name)
        if stack is None:
            raise UsageError(f"stack {p.stack_name} does not exist, so it has no change set {name}; create one with "
                             f"`cfn-delivery deploy --env {p.env} --stack {p.stack} --no-execute`")
        if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            stack = None  # a CREATE change set: the stack exists only as its placeholder
        else:
            _, stack = self.stack_state(p, stack)
        with changeset.Owned(self.cfn, p.stack_name, name, False, self.delay, reviewed=True) as owned:
            detail = reviewed.check(self.cfn, p, name, changeset.describe)
            owned.change_set_id = detail.get("ChangeSetId")
            print(f"change set {name} matches the local template, parameters and tags")
            deployed_stateful = self._deployed_stateful(p) if stack is not None else {}
            rows = show.rows(detail, set(p.stateful) | set(deployed_stateful))
            print(show.table(rows, color=self.color))
            if stack is not None:
                self.check_exports(p, stack)
                self.check_export_replacements(p, stack, rows)
            risky = [r for r in rows if r.risk]
            if p.config.protected and risky and not self.args.allow_replacement:
                raise Refused(
                    f"refusing to replace or remove stateful resources in protected environment '{p.env}': "
                    f"{', '.join(r.logical_id for r in risky)} (data-loss risk); nothing was changed; rerun with "
                    f"--allow-replacement if the data loss is intended")
            if not self.confirm(p, name):
                raise Refused(f"not confirmed: {p.stack_name} unchanged (pass --yes to execute without a prompt)")
            return self.execute(p, name, stack, bool(risky), owned)

    # -- exports other stacks import ------------------------------------------------
    def check_exports(self, p, stack):
        """``export-in-use`` (exit 2, before any change set): the update would remove, rename or change
        the value of an export that another stack imports (ListImports); CloudFormation would refuse
        it mid-update and roll back."""
        if not any(o.get("ExportName") for o in stack.get("Outputs") or []):
            return
        deployed = stackmodel.deployed_template(self.cfn, p.stack_name)
        deployed_values = {x["ParameterKey"]: x.get("ParameterValue") for x in stack.get("Parameters") or []}
        changes = exports.changed_exports(stack, deployed, deployed_values, p.template, p.effective_parameters())
        self._refuse_in_use(p, changes)

    def check_export_replacements(self, p, stack, rows):
        """An export whose value refers to a resource the change set replaces gets a new value."""
        replaced = {r.logical_id: "removed" if r.action == "Remove" else
                    "replaced" if r.replacement == "True" else "may be replaced"
                    for r in rows if r.replacement in ("True", "Conditional") or r.action == "Remove"}
        if replaced:
            self._refuse_in_use(p, exports.replaced_exports(stack, p.template, replaced))

    def _refuse_in_use(self, p, changes):
        in_use = [f"export '{change.name}' (output {change.output}) {change.what} but {', '.join(users)} "
                  f"import{'s' if len(users) == 1 else ''} it" for change, users in exports.imported_by(self.cfn, changes)
                  if users]
        if in_use:
            raise UsageError(
                f"export-in-use: {'; '.join(in_use)}; CloudFormation refuses to change an export another stack "
                f"imports (the update would fail and roll back); nothing was executed; deploy the importing "
                f"stacks without that Fn::ImportValue first, or keep the export and its value in "
                f"templates/{p.stack}.yaml")

    def verify_protection(self, p, stack) -> int:
        """On a protected environment: check termination protection and the stack policy of a stack
        that needs no change set, repair what is off (not with --dry-run / --no-execute, which
        change nothing), report it; exit 1 when a repair is refused."""
        if not p.config.protected:
            return EXIT_OK
        repair = not (self.args.dry_run or self.args.no_execute)
        try:
            findings = protect.verify(self.cfn, p, stack, repair=repair)
        except protect.ProtectionError as err:
            raise DeployError(str(err))
        for line in findings:
            print(f"protection {line}")
        if not findings:
            print(f"protection verified: termination protection on, stack policy in place ({protect.describe_guard(p)})")
        elif not repair:
            print("protection: a deploy without --dry-run/--no-execute repairs it")
        return EXIT_OK

    def _deployed_stateful(self, p) -> dict:
        try:
            return stackmodel.stateful_resources(stackmodel.deployed_template(self.cfn, p.stack_name))
        except Exception:  # best effort: types still mark stateful resources
            return {}

    def confirm(self, p, name) -> bool:
        return confirmation.ask(self.stdin, f"execute change set {name} on {p.stack_name}?", yes=self.args.yes,
                                protected=p.config.protected, env=p.env, typed=p.stack_name)

    def _conflict(self, p, before, now) -> str:
        """Why the stack is no longer the one this change set was made against (a concurrent deploy),
        or ``''``."""
        if now is None:
            return "the stack was deleted"
        status = now["StackStatus"]
        if before is None:  # a CREATE change set: the stack must still be its REVIEW_IN_PROGRESS placeholder
            return "" if status == "REVIEW_IN_PROGRESS" else f"another deployment created it (now {status})"
        if status.endswith("_IN_PROGRESS"):
            return f"another operation is running on it ({status})"
        marks = ("ChangeSetId", "LastUpdatedTime", "StackStatus")
        if any(now.get(k) != before.get(k) for k in marks):
            by = f" (change set {now['ChangeSetId'].rsplit('/', 2)[-2]})" if now.get("ChangeSetId") else ""
            return f"another deployment changed it after this change set was created{by}, now {status}"
        return ""

    def execute(self, p, name, stack, risky, owned) -> int:
        """Execute ``name`` (inside ``owned``'s cleanup until CloudFormation accepts it), follow its
        events (only this operation's: ClientRequestToken), protect, report."""
        cfn = self.cfn
        protected = p.config.protected
        guard = protect.stack_policy(p)
        conflict = self._conflict(p, stack, changeset.describe_stack(cfn, p.stack_name))
        if conflict:
            raise DeployError(f"stack {p.stack_name} changed under this deploy: {conflict}; nothing was executed by "
                              f"this run; follow the other operation with `{self._resume_hint(p)}`, then deploy again "
                              f"to review the changes against what it left")
        if protected and stack is not None:
            # the policy must be in place before the update it guards
            try:
                protect.set_policy(cfn, p.stack_name, protect.ALLOW_ALL if risky else guard)
            except Exception as err:
                raise DeployError(f"stack policy for {p.stack_name} could not be set before the update "
                                  f"({one_line(err)}); nothing was executed")
        seen = watch.event_ids(cfn, p.stack_name)
        token = watch.request_token(name)
        try:
            cfn.execute_change_set(StackName=p.stack_name, ChangeSetName=name, ClientRequestToken=token)
        except Exception as err:
            self._execute_failed(p, name, err, owned)
        owned.executed()
        print(f"executing change set {name}; stack events:")
        try:
            final, events = watch.follow(cfn, p.stack_name, seen, self.delay, started=True, token=token)
        except KeyboardInterrupt:
            raise Interrupted(
                f"stopped watching {p.stack_name}; the operation continues in CloudFormation\n"
                f"resume watching with: {self._resume_hint(p)}")
        except Exception as err:
            raise self._unknown(p, f"contact was lost while following it ({one_line(err)})")
        ran = final.get("ChangeSetId")
        previous = (stack or {}).get("ChangeSetId")  # a rolled-back update is back on the previous one
        if owned.change_set_id and ran and ran not in (owned.change_set_id, previous):
            raise self._unknown(p, f"the stack ended with another deployment's change set "
                                   f"({ran.rsplit('/', 2)[-2]}), not this one ({name})")
        status = final["StackStatus"]
        ok = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
        unprotected = []
        if protected:
            if (stack is None and ok) or (stack is not None and not stack.get("EnableTerminationProtection")):
                try:
                    protect.enable_termination_protection(cfn, p.stack_name)
                    print("termination protection enabled")
                except Exception as err:
                    unprotected.append(f"termination protection could not be enabled ({one_line(err)})")
            if ok or stack is not None:
                try:
                    protect.set_policy(cfn, p.stack_name, guard)
                    print(f"stack policy set: {protect.describe_guard(p)}")
                except Exception as err:
                    unprotected.append(f"the stack policy could not be set ({one_line(err)})")
        if not unprotected:
            return self.report(p, final, events)
        note = (f"protection of {p.stack_name} not applied: {'; '.join(unprotected)}; the stack is NOT fully "
                f"protected; fix the permission and deploy again (a deploy with no changes repairs it)")
        try:
            self.report(p, final, events)
        except DeployError as err:
            raise DeployError(f"{err}\n{note}")
        raise DeployError(note)

    def _unknown(self, p, why) -> OutcomeUnknown:
        return OutcomeUnknown(f"outcome unknown for {p.stack_name}: {why}; the operation continues in CloudFormation; "
                              f"resume with `{self._resume_hint(p)}`")

    def _execute_failed(self, p, name, err, owned):
        """ExecuteChangeSet raised. Refused by CloudFormation (a ClientError): nothing runs, the change
        set is cleaned up by ``owned``. No answer (connection lost, timeout, throttled past retries):
        the request may have been accepted, so the change set's execution status decides; when that
        cannot be read either, the outcome is unknown (exit 4) and nothing is deleted."""
        from botocore.exceptions import ClientError

        if isinstance(err, ClientError) and not _lost_contact(err):
            info = err.response.get("Error", {})
            text = f"{info.get('Code', '')} {info.get('Message', '')}"
            if "InvalidChangeSetStatus" in text or "IN_PROGRESS" in text or "OBSOLETE" in text:
                raise DeployError(f"change set {name} was not executed: {one_line(err)}; another deployment of "
                                  f"{p.stack_name} is running or ran since it was created; follow it with "
                                  f"`{self._resume_hint(p)}`, then deploy again") from err
            raise err
        if isinstance(err, KeyboardInterrupt):
            raise err
        try:
            execution = self.cfn.describe_change_set(StackName=p.stack_name, ChangeSetName=name).get("ExecutionStatus")
        except Exception:
            execution = None
        if execution in ("AVAILABLE", "UNAVAILABLE"):
            raise err  # not executed: owned deletes it, the error is reported as a failure
        owned.executed()
        raise self._unknown(p, f"ExecuteChangeSet got no answer ({one_line(err)}) and the change set's execution "
                               f"status is {execution or 'unreadable'}") from err

    def _settled_outputs(self, p, final) -> dict:
        """The stack as it is once its outputs are readable. AWS returns them with the final status;
        LocalStack can report CREATE_COMPLETE a moment before it has resolved them, so when the template
        declares unconditional outputs and none came back, the stack is read again a few times."""
        declared = [o for o in (p.template.get("Outputs") or {}).values()
                    if isinstance(o, dict) and "Condition" not in o]
        for _ in range(self._attempts(10) if declared else 0):
            if final.get("Outputs"):
                break
            time.sleep(self.delay)
            try:
                final = self.cfn.describe_stacks(StackName=p.stack_name)["Stacks"][0]
            except Exception:
                break  # the outputs are a courtesy; the deployment's outcome is already known
        return final

    def report(self, p, final, events) -> int:
        status = final["StackStatus"]
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"):
            final = self._settled_outputs(p, final)
            print(f"{p.stack_name}: {status}")
            outputs = final.get("Outputs") or []
            if outputs:
                print("Outputs:")
                width = max(len(o["OutputKey"]) for o in outputs)
                for o in sorted(outputs, key=lambda o: o["OutputKey"]):
                    export = f"  (export {o['ExportName']})" if o.get("ExportName") else ""
                    print(f"  {o['OutputKey']:<{width}}  {o.get('OutputValue', '')}{export}")
            return EXIT_OK
        lines = [f"{p.stack_name}: {status}" + (f" ({final['StackStatusReason']})" if final.get("StackStatusReason") else "")]
        causes = watch.root_causes(events)
        if causes:
            lines.append("first failure" + ("s" if len(causes) > 1 else "") + ":")
            lines.extend(f"  {watch.describe_cause(e)}" for e in causes)
        kept = watch.retained(events)
        if kept:
            lines.append("kept by their DeletionPolicy (they now exist outside any stack): "
                         + ", ".join(watch.describe_kept(e) for e in kept))
        if status == "ROLLBACK_COMPLETE":
            lines.append("the stack was never created; fix the cause and rerun with --replace-failed")
        elif status == "UPDATE_ROLLBACK_COMPLETE":
            lines.append("the update was rolled back; the stack runs its previous template")
        raise DeployError("\n".join(lines))

    def watch_only(self, p) -> int:
        """``--watch``: the stack's last operation from its start (so a failure that already ended still
        shows its cause), then its events until it settles; protection is verified and repaired on a
        protected environment like on any deploy that ends with the stack settled."""
        stack = changeset.describe_stack(self.cfn, p.stack_name)
        if stack is None:
            raise DeployError(f"stack {p.stack_name} does not exist; deploy it with "
                              f"cfn-delivery deploy --env {p.env} --stack {p.stack}")
        print(f"watching {p.stack_name} ({stack['StackStatus']})")
        history = watch.last_operation(self.cfn, p.stack_name)
        for event in history:
            print(watch.fmt(event))
        seen = watch.event_ids(self.cfn, p.stack_name) | {e["EventId"] for e in history}
        try:
            final, events = watch.follow(self.cfn, p.stack_name, seen, self.delay)
        except KeyboardInterrupt:
            raise Interrupted(f"stopped watching {p.stack_name}; the operation continues in CloudFormation\n"
                              f"resume watching with: {self._resume_hint(p)}")
        unprotected = None
        if p.config.protected and final["StackStatus"] in HEALTHY:
            try:
                self.verify_protection(p, final)
            except DeployError as err:
                unprotected = err
        try:
            self.report(p, final, history + events)
        except DeployError as err:
            raise DeployError(f"{err}\n{unprotected}" if unprotected else str(err))
        if unprotected:
            raise unprotected
        return EXIT_OK


def _lost_contact(err) -> bool:
    """A ClientError that says nothing about the request's fate: throttled past retries, a 5xx."""
    info = err.response.get("Error", {})
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return info.get("Code") in ("Throttling", "ThrottlingException", "RequestLimitExceeded", "InternalFailure",
                                "ServiceUnavailable", "RequestTimeout") or status >= 500


class _OnServer:
    """``"env:stack" in deployed``: the stack exists and is healthy (or was deployed in this run)."""

    def __init__(self, deployer, project, in_run=()):
        self.deployer, self.project, self.in_run, self.cache = deployer, project, set(in_run), {}

    def __contains__(self, node) -> bool:
        if node in self.in_run:
            return True
        if node not in self.cache:
            env, _, stack = node.partition(":")
            found = changeset.describe_stack(self.deployer.cfn, stackmodel.stack_name(self.project, env, stack))
            self.cache[node] = found is not None and found["StackStatus"] in HEALTHY
        return self.cache[node]
