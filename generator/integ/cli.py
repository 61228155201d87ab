"""``cfn-delivery integ``: deploy the sample into a sandbox account, run its pipelines, check
every wave's health, print a report, tear everything down. See docs/integ.md.

Exit codes: 0 every step passed (or no AWS credentials: nothing to do); 1 a step failed;
2 invalid input (parameter files, placeholders, plan); 3 refused (the account id was not
typed back, or the state file belongs to another account).
"""
from __future__ import annotations

import os
import sys
import time
from types import SimpleNamespace

from . import health, pipeline, preflight, prereq, report as reporting, source, state as statefile, teardown
from . import plan as integ_plan
from .. import registry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def register(sub, params_sub=None):
    """Add ``integ`` to the ``cfn-delivery`` parser."""
    p = sub.add_parser(
        "integ", help="real-account end-to-end check: deploy the sample, run the pipelines, tear down",
        description="Deploy every stack of every environment of params/ into ONE sandbox account and region "
                    "(after the account id is typed back), upload the sample application to each pipeline, "
                    "wait for every stage, check the health of every wave, print a report, then delete all of "
                    "it (retained buckets, log groups, repositories and keys after a typed confirmation). "
                    "Without AWS credentials it prints a message and exits 0. See docs/integ.md.")
    p.add_argument("--profile", help="AWS profile of the sandbox account (default: AWS_PROFILE / default chain)")
    p.add_argument("--region", help="AWS region (default: AWS_REGION / the profile's region)")
    p.add_argument("--env", action="append", help="only these environments (repeatable; default: every folder "
                                                  "of params/); their requirements must be included")
    p.add_argument("--approve", action="store_true",
                   help="approve the pipelines' manual approvals (otherwise the run stops there and says how)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--teardown-only", action="store_true",
                       help="only delete what the state file records (resume an interrupted run)")
    which.add_argument("--no-teardown", action="store_true", help="leave everything deployed for inspection")
    p.add_argument("--state-file", help="where the run records what it created (default build/integ/state.json)")
    p.add_argument("--s3-bucket", help="bucket for templates over 51,200 bytes (as for deploy)")
    p.add_argument("--poll-seconds", type=float, default=15.0, help="delay between status polls (default 15)")
    p.add_argument("--pipeline-timeout", type=float, default=90.0, help="minutes to wait per pipeline (default 90)")
    p.add_argument("--health-timeout", type=float, default=10.0, help="minutes a target may take to turn healthy "
                                                                      "(default 10)")
    p.add_argument("--debug", dest="integ_debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)
    return p


def _err(message):
    print(message, file=sys.stderr)


def run(args, clients=None, stdin=None, interactive=None) -> int:
    stdin = stdin or sys.stdin
    debug = getattr(args, "debug", False) or getattr(args, "integ_debug", False)
    try:
        return Integ(args, clients, stdin, interactive).main()
    except preflight.Refused as err:
        _err(str(err))
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _err("integ: interrupted; run `cfn-delivery integ --teardown-only` to remove what was created")
        return 130
    except Exception as err:
        from botocore.exceptions import BotoCoreError, ClientError

        if debug or not isinstance(err, (BotoCoreError, ClientError)):
            raise
        from ..deploy.errors import one_line

        _err(f"integ: {one_line(err)}")
        return EXIT_FAILED


class Integ:
    def __init__(self, args, clients, stdin, interactive):
        self.args = args
        self.clients = clients
        self.stdin = stdin
        self.interactive = preflight.interactive(stdin) if interactive is None else interactive
        self.report = reporting.Report()
        self.outputs = {}      # (env, stack) -> outputs
        self.plans = {}        # (env, stack) -> deploy StackPlan
        self.deployments = []
        self.targets = []
        self.stopped_at_approval = False

    # -- entry -----------------------------------------------------------------
    def main(self) -> int:
        from botocore.exceptions import NoRegionError, ProfileNotFound

        try:
            session = self._session()
        except ProfileNotFound as err:
            _err(f"integ: {err}; list profiles with `aws configure list-profiles`")
            return EXIT_USAGE
        try:
            found = preflight.has_credentials(session)
        except Exception as err:  # e.g. an expired SSO token: say so rather than "no credentials"
            from ..deploy.errors import one_line

            _err(f"integ: cannot load the AWS credentials: {one_line(err)}")
            return EXIT_USAGE
        if not found:
            print(preflight.NO_CREDENTIALS)
            return EXIT_OK
        self.region = session.region_name
        if not self.region:
            _err("integ: no AWS region: pass --region or set AWS_REGION (or the profile's region)")
            return EXIT_USAGE
        path = self.args.state_file or statefile.default_path()
        try:
            self.state = statefile.State.load(path)
        except (ValueError, OSError) as err:
            _err(f"integ: cannot read the state file: {err}")
            return EXIT_USAGE
        if not self.args.teardown_only:
            problems = self.prepare()
            if problems:
                for line in problems:
                    _err(line)
                _err(f"integ: {len(problems)} problem(s) to fix before a real run; nothing was touched")
                return EXIT_USAGE
        elif not self.state.stacks and not self.state.resources:
            print(f"integ: nothing to tear down: {self.state.path} records nothing")
            return EXIT_OK
        try:
            from ..deploy.aws import Clients, Target

            if self.clients is None:
                self.clients = Clients(Target(region=self.region, profile=self.args.profile), session=session)
            who = preflight.identity(self.clients.get("sts"))
        except NoRegionError:
            _err("integ: no AWS region: pass --region or set AWS_REGION")
            return EXIT_USAGE
        account = who["Account"]
        preflight.confirm_account(account, self.region, who.get("Arn", "?"), self.stdin, self.interactive)
        if self.state.account and (self.state.account, self.state.region) != (account, self.region):
            raise preflight.Refused(
                f"integ: {self.state.path} records a run in account {self.state.account} {self.state.region}, not "
                f"{account} {self.region}; tear that one down first (with its credentials) or pass --state-file")
        self.state.bind(account, self.region)
        if self.args.teardown_only:
            self.teardown()
            return self.finish()
        problems = preflight.missing_network_ids(self.clients.get("ec2"), list(self.plans.values()))
        if problems:
            for line in problems:
                _err(line)
            _err(f"integ: {len(problems)} parameter value(s) name network ids this account lacks; nothing was deployed")
            return EXIT_USAGE
        try:
            self.deploy_all() and self.run_pipelines() and self.check_all_targets()
        except KeyboardInterrupt:
            self.report.add("interrupted", reporting.FAILED, 0, "Ctrl-C")
            print(self.report.table())
            _err(f"integ: interrupted; what was created is recorded in {self.state.path}; remove it with "
                 f"`cfn-delivery integ --teardown-only`")
            return 130
        if self.args.no_teardown or self.stopped_at_approval:
            print(self.report.table())
            why = "--no-teardown" if self.args.no_teardown else "stopped at a manual approval"
            print(f"integ: left deployed ({why}); remove it with `cfn-delivery integ --teardown-only`")
            return EXIT_FAILED if not self.report.passed or self.stopped_at_approval else EXIT_OK
        self.teardown()
        return self.finish()

    def finish(self) -> int:
        print(self.report.table())
        return EXIT_OK if self.report.passed else EXIT_FAILED

    def _session(self):
        if self.clients is not None:
            return self.clients.session
        from ..stackmodel import Clients, Target

        # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION is what the SDKs and the docs use
        region = self.args.region or os.environ.get("AWS_REGION") or None
        return Clients(Target(region=region, profile=self.args.profile)).session

    # -- local checks ------------------------------------------------------------
    def prepare(self) -> list:
        """Plan and validate everything locally; problems (one line each)."""
        from .. import paramfile
        from ..deploy import changeset, envconfig
        from ..deploy import plan as planning
        from ..deploy.errors import DeployError

        from .. import paths

        try:
            for env in self.args.env or []:
                paths.check_environment(env)
            self.deployments = integ_plan.from_project(self.args.env)
        except paths.UnknownEnvironment as err:
            return [f"integ: {err}"]
        except integ_plan.PlanError as err:
            return str(err).splitlines()
        if not self.deployments:
            return ["integ: nothing to deploy: params/ has no environments"]
        problems, configs = [], {}
        for d in self.deployments:
            try:
                configs.setdefault(d.env, envconfig.load(d.env))
                p = planning.build(d.env, d.cls)
                changeset.check_size(p, self.args.s3_bucket)
                self.plans[(d.env, d.stack)] = p
            except paramfile.ParamFileError as err:
                problems.extend(err.problems)
            except DeployError as err:
                problems.append(str(err))
        problems += preflight.placeholders(list(self.plans.values()))
        problems += preflight.region_mismatches(configs, self.region)
        return problems

    # -- deploy --------------------------------------------------------------------
    def deploy_all(self) -> bool:
        from ..deploy import changeset
        from ..deploy import plan as planning
        from ..deploy.main import Deployer

        deploy_args = SimpleNamespace(poll_seconds=self.args.poll_seconds / 3, dry_run=False, no_execute=False,
                                      yes=True, replace_failed=True, allow_replacement=False, watch=False,
                                      s3_bucket=self.args.s3_bucket)
        deployer = Deployer(deploy_args, self.clients, planning.git_revision(), self.stdin)
        in_run = {}
        for d in self.deployments:
            p = self.plans[(d.env, d.stack)]
            try:
                with self.report.step(f"deploy {d.key}") as note:
                    self.state.add_stack(p.stack_name, d.env, d.stack)
                    self.prerequisites(d, p)
                    deployer.deploy(p, in_run.setdefault(d.env, set()))
                    in_run[d.env].add(d.stack)
                    stack = changeset.describe_stack(self.clients.cfn, p.stack_name)
                    self.outputs[(d.env, d.stack)] = {o["OutputKey"]: o.get("OutputValue", "")
                                                      for o in (stack or {}).get("Outputs") or []}
                    note["detail"] = p.stack_name
            except Exception as err:
                if isinstance(err, KeyboardInterrupt):
                    raise
                rest = self.deployments[self.deployments.index(d) + 1:]
                if rest:
                    self.report.add(f"deploy {len(rest)} later stack(s)", reporting.SKIPPED, 0,
                                    f"not deployed after {d.key} failed")
                return False
            target = self._target(d, p)
            if target is not None:
                self.targets.append(target)
        return True

    def _target(self, d, p):
        types = {r.get("Type") for r in p.template["Resources"].values() if isinstance(r, dict)}
        groups = []
        if health.TARGET_GROUP in types:
            for page in self.clients.cfn.get_paginator("list_stack_resources").paginate(StackName=p.stack_name):
                groups += [r["PhysicalResourceId"] for r in page.get("StackResourceSummaries", [])
                           if r.get("ResourceType") == health.TARGET_GROUP and r.get("PhysicalResourceId")]
        return health.classify(d.key, p.stack_name, self.outputs.get((d.env, d.stack), {}), types, groups)

    def required_outputs(self, d) -> list:
        """Outputs of the stacks ``d`` requires, nearest first, transitively."""
        seen, order, queue = set(), [], [(d.env, d.cls)]
        index = {(x.env, x.stack): x for x in self.deployments}
        while queue:
            env, cls = queue.pop(0)
            for req in registry.requires(cls, env):
                req_env, _, req_stack = req.rpartition(":")
                node = (req_env or env, req_stack)
                if node in seen or node not in index:
                    continue
                seen.add(node)
                order.append(self.outputs.get(node, {}))
                queue.append((node[0], index[node].cls))
        return order

    def _find_output(self, d, key):
        for outputs in self.required_outputs(d):
            if outputs.get(key):
                return outputs[key]
        return None

    # -- what a stack needs that no stack creates -------------------------------------
    def prerequisites(self, d, p) -> None:
        from .. import paths

        prereq.check(self.clients, d, p, lambda key: self._find_output(d, key), self.state, paths.root())

    # -- pipelines -------------------------------------------------------------------------
    def pipelines(self) -> list:
        """``[(deployment, plan)]`` of the stacks that hold a pipeline."""
        found = []
        for d in self.deployments:
            p = self.plans[(d.env, d.stack)]
            types = {r.get("Type") for r in p.template["Resources"].values() if isinstance(r, dict)}
            if "AWS::CodePipeline::Pipeline" in types:
                found.append((d, p))
        return found

    def source_key(self, d, p):
        """``SourceObjectKey`` of the pipeline stack (parameter file, else template default), else of
        the nearest stack it requires that has one."""
        key = p.effective_parameters().get("SourceObjectKey")
        if key:
            return key
        index = {(x.env, x.stack): x for x in self.deployments}
        queue, seen = [d], set()
        while queue:
            current = queue.pop(0)
            for req in registry.requires(current.cls, current.env):
                req_env, _, req_stack = req.rpartition(":")
                node = (req_env or current.env, req_stack)
                if node in seen or node not in index:
                    continue
                seen.add(node)
                key = self.plans[node].effective_parameters().get("SourceObjectKey")
                if key:
                    return key
                queue.append(index[node])
        return None

    def _pipeline_name(self, d, p) -> str:
        name = self.outputs.get((d.env, d.stack), {}).get("PipelineName")
        if name:
            return name
        for page in self.clients.cfn.get_paginator("list_stack_resources").paginate(StackName=p.stack_name):
            for r in page.get("StackResourceSummaries", []):
                if r.get("ResourceType") == "AWS::CodePipeline::Pipeline":
                    return r["PhysicalResourceId"]
        raise reporting.StepFailed(f"{p.stack_name} has no PipelineName output nor pipeline resource")

    def run_pipelines(self) -> bool:
        from .. import paths

        found = self.pipelines()
        if not found:
            self.report.add("pipelines", reporting.SKIPPED, 0, "no pipeline stack in the plan")
            return True
        zip_path = paths.root() / "build" / "integ" / "source.zip"
        with self.report.step("build source zip") as note:
            source.build_zip(paths.root(), zip_path)
            note["detail"] = f"{zip_path.stat().st_size} bytes"
        started = []
        for d, p in found:
            try:
                with self.report.step(f"upload source {d.key}") as note:
                    bucket = self._find_output(d, "SourceBucketName")
                    if not bucket:
                        raise reporting.StepFailed(f"no SourceBucketName output among the stacks {d.key} requires")
                    key = self.source_key(d, p)
                    if not key:
                        raise reporting.StepFailed(f"no SourceObjectKey parameter in {d.key} or the stacks it requires")
                    not_before = _utcnow()
                    version = source.upload(self.clients.get("s3"), zip_path, bucket, key)
                    note["detail"] = f"s3://{bucket}/{key} version {version}"
                    started.append((d, p, self._pipeline_name(d, p), version, not_before))
            except Exception as err:
                if isinstance(err, KeyboardInterrupt):
                    raise
        ok = len(started) == len(found)
        for d, p, name, version, not_before in started:
            ok = self.wait_pipeline(d, name, version, not_before) and ok
            if self.stopped_at_approval:
                break
        return ok

    def wait_pipeline(self, d, name, version, not_before) -> bool:
        cp = self.clients.get("codepipeline")

        shared = health.shared_values(self.targets)

        def on_stage(stage):
            for target in self.targets:
                if stage.deploy_targets and target.matches(stage.deploy_targets, shared):
                    self.check_target(target, f"health {name}/{stage.name} {target.key}")

        watcher = pipeline.Watcher(cp, name, poll_seconds=self.args.poll_seconds,
                                   timeout_seconds=self.args.pipeline_timeout * 60, approve=self.args.approve,
                                   on_stage=on_stage)
        start = time.monotonic()
        try:
            execution = watcher.find_execution(revision_id=version, not_before=not_before)
            outcome = watcher.wait(execution)
        except TimeoutError as err:
            self.report.add(f"pipeline {name}", reporting.FAILED, time.monotonic() - start, str(err))
            return False
        for stage in outcome.stages:
            status = {"Succeeded": reporting.PASSED, "ApprovalWaiting": reporting.WAITING,
                      "NotStarted": reporting.SKIPPED}.get(stage.status, reporting.FAILED)
            if stage.status == "NotStarted" and outcome.ok:
                continue
            self.report.steps.append(reporting.Step(f"  {name}/{stage.name}", status, stage.seconds, stage.detail))
        status = reporting.PASSED if outcome.ok else (
            reporting.WAITING if outcome.status == pipeline.APPROVAL else reporting.FAILED)
        self.report.add(f"pipeline {name}", status, time.monotonic() - start, outcome.detail or outcome.status)
        if outcome.status == pipeline.APPROVAL:
            self.stopped_at_approval = True
        return outcome.ok

    # -- health ----------------------------------------------------------------------------
    def check_target(self, target, step_name) -> bool:
        checker = health.Checker(self.clients, timeout_seconds=self.args.health_timeout * 60,
                                 poll_seconds=self.args.poll_seconds)
        try:
            with self.report.step(step_name) as note:
                note["detail"] = checker.check(target)
            return True
        except Exception as err:
            if isinstance(err, KeyboardInterrupt):
                raise
            return False

    def check_all_targets(self) -> bool:
        ok = True
        for target in self.targets:
            ok = self.check_target(target, f"health {target.key}") and ok
        return ok

    # -- teardown ------------------------------------------------------------------------------
    def ask(self, prompt) -> str:
        if not self.interactive:
            print(prompt + "(no terminal: not confirmed)")
            return ""
        print(prompt, end="", flush=True)
        return self.stdin.readline()

    def teardown(self) -> None:
        work = teardown.Teardown(self.clients, self.state, self.ask, poll_seconds=self.args.poll_seconds)
        try:
            with self.report.step("teardown") as note:
                ok = work.run()
                if not ok:
                    raise reporting.StepFailed("left: " + "; ".join(work.left))
                note["detail"] = f"{len(self.state.stacks)} stack(s), {len(self.state.resources)} retained resource(s)"
        except teardown.TeardownError as err:
            _err(f"integ: {err}")
        except reporting.StepFailed:
            pass
        if not self.state.pending_stacks() and not self.state.pending_resources():
            self.state.remove()
        else:
            print(f"integ: {self.state.path} keeps what is left; `cfn-delivery integ --teardown-only` resumes")


def _utcnow():
    import datetime

    return datetime.datetime.now(datetime.timezone.utc)
