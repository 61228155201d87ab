#!/usr/bin/env python3
"""``make bench``: what rendering costs and how close every template is to CloudFormation's limits.

Prints a table and writes ``docs/benchmarks.md``. Only the project's dependencies and the standard
library (``resource`` for peak RSS of the child processes). Sections (issue 12):

- cold render of the committed set (``cfn-delivery templates --out``) in a fresh process, median and
  spread over ``--runs`` runs, wall and CPU time, beside the import floor (a fresh interpreter
  importing troposphere, awacs and yaml) and their ratio;
- N synthetic applications: generated models with 1, 10 and 100 applications (kinds in turn),
  each rendered in a fresh process: wall and CPU time, time per application, peak RSS, growth 10 -> 100,
  and how many templates of the generated set would break their budget;
- per template: every measure of ``generator/budget.py`` against its limit, tightest margin marked;
- no-op deploy cost: the stacks ``dev`` needs deployed to LocalStack (when ``.venv-localstack``
  exists), then each deployed again unchanged: its API calls and change sets;
- the machine (CPU count, Python, PyYAML with or without libyaml), since absolute times vary.

    python bench/bench.py [--runs 7] [--out docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import atexit
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOOR_CODE = "import troposphere, awacs, yaml"
#: A fresh process runs what a user runs, ``cfn-delivery templates``, rendering every stack of the
#: committed set to a scratch folder (``--out``: the committed templates stay untouched).
RENDER_CODE = "import sys; from generator.cli import main; sys.exit(main())"


#: Child processes cache bytecode as a normal installation does (``__pycache__`` written on the first
#: run), in a scratch folder so the tree stays clean; a PYTHONDONTWRITEBYTECODE of the caller would
#: otherwise make every "cold" run compile the project's modules again (~50 ms), which no user pays.
PYCACHE = tempfile.mkdtemp(prefix="bench-pycache-")
atexit.register(shutil.rmtree, PYCACHE, ignore_errors=True)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = PYCACHE


def child_run(code: str, *args) -> tuple:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of a fresh ``python -c code``,
    run from the project root."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, env=CHILD_ENV,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = after.ru_maxrss  # KiB on Linux; max over children so far
    return wall, cpu, max(peak, before.ru_maxrss) / 1024


def summary(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def cold_render(runs: int) -> dict:
    """Alternating runs of the import floor and of a full render, each in a fresh interpreter."""
    floor, render_times, floor_cpu, render_cpu, peaks = [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        child_run(FLOOR_CODE)  # warm the bytecode caches once; every measured run is a fresh process
        child_run(RENDER_CODE, "templates", "--out", scratch)
        for _ in range(runs):
            wall, cpu, _ = child_run(FLOOR_CODE)
            floor.append(wall)
            floor_cpu.append(cpu)
            wall, cpu, peak = child_run(RENDER_CODE, "templates", "--out", scratch)
            render_times.append(wall)
            render_cpu.append(cpu)
            peaks.append(peak)
    floor_s, render_s = summary(floor), summary(render_times)
    floor_c, render_c = summary(floor_cpu), summary(render_cpu)
    return {"floor": floor_s, "render": render_s, "ratio": render_s["median"] / floor_s["median"],
            "floor_cpu": floor_c, "render_cpu": render_c, "cpu_ratio": render_c["median"] / floor_c["median"],
            "peak_rss_mib": max(peaks)}


#: A fresh process loads a generated model and renders every template and parameter file of it.
#: The budget is measured instead of enforced (a synthetic set over budget still gets timed), and
#: the over-budget templates are counted and reported.
SYNTHETIC_CODE = """
import json, resource, sys, time
start = time.perf_counter()
cpu_start = time.process_time()
from generator import budget, model, paramgen, registry, render
budget.enforce = lambda *args: None
imported = time.perf_counter()
cpu_imported = time.process_time()
m = model.load(sys.argv[1])
over = set()
try:
    for cls in registry.stacks(m):
        template, text = render.rendered(cls)
        if budget.findings(cls.name, template, text):
            over.add(cls.name)
    files = paramgen.expected_files(m)
except Exception as err:  # reported, not hidden: this size of setup does not render
    print(json.dumps({"error": f"{cls.name}: {err}"}))
    sys.exit(0)
done = time.perf_counter()
print(json.dumps({"render": done - imported, "cpu": time.process_time() - cpu_imported, "total": done - start, "stacks": len(registry.stacks(m)),
                  "files": len(files), "over": sorted(over),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
SYNTHETIC_KINDS = ("ecs-bluegreen", "ecs-rolling", "beanstalk")


def synthetic_model(count: int) -> str:
    """A model with ``count`` applications of the kinds in turn, promoted staging -> prod, built from
    the committed sample's project and environments (so every parameter the stacks need is set)."""
    import yaml

    sample = yaml.safe_load((ROOT / "delivery.yaml").read_text(encoding="utf-8").replace("!placeholder ", ""))
    apps = []
    for i in range(count):
        kind = SYNTHETIC_KINDS[i % len(SYNTHETIC_KINDS)]
        app = {"name": f"app{i:03d}", "kind": kind, "waves": ["staging", "prod"]}
        if kind == "beanstalk":
            app["parameters"] = {"PlatformArn": "arn:aws:elasticbeanstalk:eu-west-1::platform/"
                                                "Python 3.12 running on 64bit Amazon Linux 2023/4.5.2"}
        else:
            app["parameters"] = {"DockerHubUsername": "benchbuild"}
        apps.append(app)
    sample["applications"] = apps
    return yaml.safe_dump(sample, sort_keys=False)


def synthetic_applications(counts=(1, 10, 100)) -> dict:
    """Rendering N generated applications, each N in a fresh process (after one warm-up run):
    render seconds (after imports), seconds per application, peak RSS, growth of the per-application
    time from 10 to 100, and the templates over budget."""
    import json

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in counts:
            path = Path(scratch) / f"model-{count}.yaml"
            path.write_text(synthetic_model(count), encoding="utf-8")
            runs = []
            for attempt in range(2):  # the first run warms the bytecode caches
                result = subprocess.run([sys.executable, "-c", SYNTHETIC_CODE, str(path)], cwd=ROOT,
                                        check=True, capture_output=True, text=True, env=CHILD_ENV)
                runs.append(json.loads(result.stdout))
            run = runs[-1]
            run["count"] = count
            if "error" not in run:
                run["per_app"] = run["render"] / count
                run["cpu_per_app"] = run["cpu"] / count
            rows.append(run)
    by_count = {row["count"]: row for row in rows if "error" not in row}
    measured = {10, 100} <= set(by_count)
    # The growth is taken on CPU time: on a shared machine the wall time of a 20-second run varies with
    # the other processes' load more than with the work done; both are printed.
    growth = (by_count[100]["cpu_per_app"] / by_count[10]["cpu_per_app"]) if measured else None
    wall_growth = (by_count[100]["per_app"] / by_count[10]["per_app"]) if measured else None
    return {"counts": list(counts), "rows": rows, "growth": growth, "wall_growth": wall_growth}


def template_budgets() -> list:
    """Per committed template: every measure of generator/budget.py (the largest IAM policy only)."""
    from generator import budget, registry, yamlio
    rows = []
    for name in registry.names():
        text = (ROOT / "templates" / f"{name}.yaml").read_bytes()
        measures = budget.measure(name, yamlio.load(text.decode("utf-8")), text)
        by_key = {}
        for m in measures:
            if m.limit.key not in by_key or m.share > by_key[m.limit.key].share:
                by_key[m.limit.key] = m
        iam = [m for m in measures if m.limit in (budget.ROLE_INLINE, budget.MANAGED_POLICY)]
        largest_policy = max(iam, key=lambda m: m.share) if iam else None
        tightest = max(measures, key=lambda m: m.share)
        rows.append({"name": name, "by_key": by_key, "policy": largest_policy, "tightest": tightest})
    return rows


NOOP_ENV = "dev"


def noop_deploys(target_env: str = NOOP_ENV) -> dict:
    """Deploy ``target_env`` and what it imports from (``plan.chain``) to a local server, then deploy
    each deployed stack again unchanged and count that second deploy's API calls (botocore
    ``before-call``, ``stackmodel.aws.ApiCalls``) and change sets. The server is LocalStack, started
    as the deploy tests start it, when its venv exists; nothing is installed here."""
    import contextlib
    import io

    from generator import cli, localserver, yamlio
    from generator.deploy import plan, protect
    from generator.stackmodel.aws import ApiCalls

    if not (localserver.venv_dir() / "bin" / "python").exists():
        return {"skipped": "no local server venv (scripts/localstack_venv.sh creates .venv-localstack)"}
    started = time.perf_counter()
    try:
        server = localserver.start_localstack()
    except RuntimeError as err:
        return {"skipped": f"the local server did not start: {str(err).splitlines()[0]}"}
    saved_env = dict(os.environ)
    saved_policy = protect.set_policy
    rows = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            # As tests/deploy/test_real_stacks.py: the sample's protected environments carry placeholders,
            # which a protected deploy refuses; the local server does not emulate stack policies.
            model = Path(scratch) / "delivery.yaml"
            model.write_text((ROOT / "delivery.yaml").read_text(encoding="utf-8").replace("protected: true",
                                                                                         "protected: false"))
            os.environ["CFN_DELIVERY_MODEL"] = str(model)
            os.environ.update({k: v for k, v in localserver.aws_env(server.endpoint_url).items()
                               if k.startswith("AWS_") or k.lower() == "no_proxy"})
            protect.set_policy = lambda cfn, stack_name, policy: None
            deployed = set()

            def deploy(env, name):
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    code = cli.main(["deploy", "--env", env, "--stack", name, "--yes", "--endpoint-url",
                                     server.endpoint_url, "--poll-seconds", "0.5"])
                return code, out.getvalue()

            for env, cls in plan.chain(target_env):
                row = {"stack": f"{env}:{cls.name}"}
                rows.append(row)
                types = {r.get("Type") for r in yamlio.load_file(ROOT / "templates" / f"{cls.name}.yaml")
                         .get("Resources", {}).values()}
                unsupported = sorted(types & set(localserver.OFFLINE_UNSUPPORTED))
                missing = [r for r in cls.requires if (r if ":" in r else f"{env}:{r}") not in deployed]
                if unsupported or missing:
                    row["skipped"] = (f"{unsupported[0]} cannot be created offline" if unsupported
                                      else f"needs {', '.join(missing)}")
                    continue
                code, text = deploy(env, cls.name)
                if code != 0:
                    failure = [line for line in text.splitlines() if "FAILED" in line or "error" in line.lower()]
                    row["skipped"] = "first deploy failed on the local server: " + (failure or ["?"])[0].strip()[:160]
                    continue
                deployed.add(row["stack"])
                with ApiCalls() as calls:
                    code, text = deploy(env, cls.name)
                row.update(code=code, calls=calls.total, change_sets=calls.change_sets,
                           operations=dict(sorted(calls.calls.items())), no_changes="no changes" in text)
    finally:
        protect.set_policy = saved_policy
        os.environ.clear()
        os.environ.update(saved_env)
        server.stop()
    return {"env": target_env, "rows": rows, "seconds": time.perf_counter() - started}


def machine() -> dict:
    import yaml
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "pyyaml": f"{yaml.__version__} ({'libyaml' if yaml.__with_libyaml__ else 'pure Python'})",
        "load": os.getloadavg()[0],
    }


# --- output ---------------------------------------------------------------------------------------

def _pct(m) -> str:
    return f"{m.share:.0%}"


def budget_table(rows) -> list:
    from generator import budget
    head = ("| template | bytes / 51,200 | bytes / 1 MB (S3) | resources / 500 | parameters / 200 | "
            "outputs / 200 | largest IAM policy / limit | tightest margin |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        k, tight = row["by_key"], row["tightest"]

        def cell(key, tight=tight):
            m = k[key]
            text = f"{m.value:,} ({_pct(m)})"
            return f"**{text}**" if m is tight else text
        policy = row["policy"]
        if policy is None:
            policy_cell = "none"
        else:
            policy_cell = f"{policy.what}: {policy.value:,} / {policy.limit.limit:,} ({_pct(policy)})"
            if policy is tight:
                policy_cell = f"**{policy_cell}**"
        over = " OVER BUDGET" if tight.over else ""
        lines.append(f"| {row['name']} | {cell('body')} | {cell('s3-body')} | {cell('resources')} | "
                     f"{cell('parameters')} | {cell('outputs')} | {policy_cell} | "
                     f"{tight.what} at {_pct(tight)} of the limit (budget {budget.BUDGET_SHARE:.0%}){over} |")
    return lines


def noop_lines(noop) -> list:
    lines = ["## No-op deploy cost", ""]
    if "skipped" in noop:
        return lines + [f"Skipped: {noop['skipped']}.", ""]
    deployed = [row for row in noop["rows"] if "calls" in row]
    lines += [
        f"Every stack `{noop['env']}` needs (`plan.chain`) deployed to the local test server (LocalStack) with "
        "`cfn-delivery deploy --yes`, then deployed again with nothing changed; API calls of that second deploy "
        "counted with botocore's `before-call` event (one per call, retries not counted). "
        f"({noop['seconds']:.0f} s including the server's start.)",
        "",
        "| stack | API calls | change sets created | calls | result |",
        "|---|---|---|---|---|",
    ]
    for row in noop["rows"]:
        if "calls" in row:
            ops = ", ".join(f"{op.split(':')[1]} {n}" for op, n in row["operations"].items())
            result = "no changes" if row["no_changes"] and row["code"] == 0 else f"exit {row['code']}"
            lines.append(f"| {row['stack']} | {row['calls']} | {row['change_sets']} | {ops} | {result} |")
        else:
            lines.append(f"| {row['stack']} | - | - | - | not deployed: {row['skipped']} |")
    if deployed:
        total = sum(row["change_sets"] for row in deployed)
        lines += ["", f"Change sets created by the no-op deploys: **{total}** across {len(deployed)} stacks "
                      f"(issue 12 asks for 0); at most {max(row['calls'] for row in deployed)} API calls per stack."]
    return lines + [""]


def report(env, cold, synthetic, rows, noop) -> str:
    r, f = cold["render"], cold["floor"]
    rc, fc = cold["render_cpu"], cold["floor_cpu"]
    worst = max(rows, key=lambda row: row["tightest"].share)["tightest"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/bench.py`); absolute times depend on the machine, ratios less so.",
        "",
        f"Machine: {env['cpus']} CPUs, {env['implementation']} {env['python']}, {env['platform']}, "
        f"PyYAML {env['pyyaml']}. Load average when the benchmark started: {env['load']:.2f} "
        "(other work on the machine makes wall times noisier than CPU times).",
        "",
        "## Cold render of the committed set",
        "",
        f"Each run is a fresh interpreter; {r['n']} runs each, alternating, after one warm-up run "
        "(bytecode cached, as after any first run; nothing else carries over between runs). "
        "Seconds: median (min-max).",
        "",
        "| what | median | min | max |",
        "|---|---|---|---|",
        f"| import floor (`{FLOOR_CODE}`) | {f['median']:.3f} | {f['min']:.3f} | {f['max']:.3f} |",
        f"| render every stack (`cfn-delivery templates --out DIR`) | {r['median']:.3f} | {r['min']:.3f} | "
        f"{r['max']:.3f} |",
        f"| CPU time (user + system) of the floor | {fc['median']:.3f} | {fc['min']:.3f} | {fc['max']:.3f} |",
        f"| CPU time (user + system) of the render | {rc['median']:.3f} | {rc['min']:.3f} | {rc['max']:.3f} |",
        "",
        f"Ratio render / floor (medians of wall time): **{cold['ratio']:.2f}x** (issue 12 asks for at most 2x); "
        f"of CPU time: {cold['cpu_ratio']:.2f}x. Peak RSS of a render process: {cold['peak_rss_mib']:.0f} MiB.",
        "",
        "## Synthetic applications",
        "",
        "Generated models (kinds in turn, waves staging -> prod), each rendered in a fresh process after a "
        "warm-up run: every template and parameter file. Render seconds exclude the interpreter and imports; "
        "CPU seconds are the process's own (what the work costs, whatever else the machine runs).",
        "",
        "| applications | stacks | parameter files | render (s) | per application (s) | CPU per application (s) "
        "| peak RSS (MiB) | over budget |",
        "|---|---|---|---|---|---|---|---|",
        *[(f"| {row['count']} | {row['stacks']} | {row['files']} | {row['render']:.3f} | {row['per_app']:.4f} | "
           f"{row['cpu_per_app']:.4f} | {row['peak_mib']:.0f} | "
           f"{len(row['over'])}{' (' + ', '.join(row['over'][:3]) + ')' if row['over'] else ''} |")
          if "error" not in row else f"| {row['count']} | does not render: {row['error']} | | | | | | |"
          for row in synthetic["rows"]],
        "",
        (f"Growth of the CPU time per application from 10 to 100 applications: **{synthetic['growth']:.2f}x** "
         f"(issue 12 asks for at most 1.2x); of the wall time: {synthetic['wall_growth']:.2f}x."
         if synthetic["growth"] is not None else
         "Growth from 10 to 100 applications: not measurable, a size above does not render."),
        "",
        "## Template budget",
        "",
        "Each value against CloudFormation's or IAM's limit (`generator/budget.py`; the budget is 80 % of "
        "each limit; IAM policy sizes without white space, the inline policies of a role summed). "
        "The tightest measure of each template is in bold.",
        "",
        *budget_table(rows),
        "",
        f"Tightest overall: {worst.template}, {worst.what} at {_pct(worst)} of its limit "
        f"({worst.value:,} of {worst.limit.limit:,} {worst.limit.unit}; budget {worst.limit.budget:,}).",
        "",
        *noop_lines(noop),
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh-process runs of each measurement (>= 5)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    env = machine()
    cold = cold_render(args.runs)
    synthetic = synthetic_applications()
    rows = template_budgets()
    noop = noop_deploys()
    text = report(env, cold, synthetic, rows, noop)
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
