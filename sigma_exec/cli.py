"""`sigma-exec` command line: run a proposal in-process, manage images, reap, submit through Celery.

Exit codes: 0 executed, 1 rejected, 2 error (3: `status` of a proposal still queued or running).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sigma_exec.output import sanitize_text
from sigma_exec.settings import Settings

EXIT = {"executed": 0, "rejected": 1, "error": 2}
console = Console(stderr=True)
out = Console()


def _t(value: object) -> str:
    """Text that did not come from us, made safe to print: no control characters, no console markup."""
    return escape(sanitize_text(str(value)))


def _load_changes(path: str | None) -> list[dict[str, Any]]:
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SystemExit(f"sigma-exec: cannot read changes file {path!r}: {exc}") from exc
    except RecursionError:
        raise SystemExit(f"sigma-exec: changes file {path!r} is nested too deeply") from None
    changes = data["changes"] if isinstance(data, dict) and "changes" in data else data
    if not isinstance(changes, list):
        raise SystemExit(
            f"sigma-exec: changes file {path!r} must hold a JSON list of {{filepath, content | delete}} objects "
            f'(or {{"changes": [...]}}), not a JSON {type(changes).__name__}'
        )
    for number, change in enumerate(changes, 1):
        if not isinstance(change, dict):
            raise SystemExit(
                f"sigma-exec: changes file {path!r}: change #{number} must be a JSON object like "
                f'{{"filepath": "src/a.py", "content": "..."}} or {{"filepath": "old.py", "delete": true}}, '
                f"not a JSON {_json_type(change)}"
            )
    return changes


def _json_type(value: object) -> str:
    names = {str: "string", int: "number", float: "number", bool: "boolean", list: "list", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def render_outcome(outcome: dict[str, Any]) -> None:
    """A readable report of one proposal's outcome."""
    status = outcome["status"]
    colour = {"executed": "green", "rejected": "yellow", "error": "red"}.get(status, "white")
    who = f"{_t(outcome['proposal_id'])}  project {_t(outcome['project_id'])}  node {_t(outcome['node'])}"
    out.print(f"[bold]proposal[/] {who}")
    stages = Table(title="stages", show_header=True)
    for col in ("stage", "ok", "seconds", "detail"):
        stages.add_column(col)
    for st in outcome["stages"]:
        detail = _t(str(st.get("detail") or "")[:70])
        stages.add_row(_t(st["name"]), "✔" if st["ok"] else "✘", f"{st['duration_s']:.2f}", detail)
    out.print(stages)
    tests = outcome.get("tests")
    if tests:
        cov = tests.get("coverage_percent")
        out.print(
            f"tests ({_t(tests.get('framework'))}): passed {tests.get('tests_passed')}, "
            f"failed {tests.get('tests_failed')}, "
            f"skipped {tests.get('tests_skipped')}, errored {tests.get('tests_errored')}, "
            f"coverage {'n/a' if cov is None else f'{cov:.1f}%'}"
        )
    _render_baseline(outcome.get("baseline"), outcome.get("transitions"), outcome.get("policy"))
    build = outcome.get("build")
    if build:
        out.print(f"build: {'ok' if build.get('success') else 'FAILED'} in {build.get('build_time', 0):.2f}s")
    for warning in outcome.get("warnings") or []:
        out.print(f"  ! {_t(warning)}")  # e.g. a dependency left out under DEPS_BEST_EFFORT
    for reason in outcome.get("reasons") or []:
        out.print(f"  - {_t(reason)}")
    out.print(f"verdict: [bold {colour}]{_t(str(status).upper())}[/]")


TRANSITIONS_SHOWN = ("broken", "new_failing", "still_failing", "fixed", "new", "removed", "flaky")
IDS_SHOWN = 10


def _render_baseline(baseline: dict[str, Any] | None, moves: dict[str, Any] | None, policy: str | None) -> None:
    """The baseline's counts and the per-test transitions (ids are project text: printed escaped)."""
    if baseline:
        origin = "cached" if baseline.get("cached") else f"{baseline.get('execution_time', 0):.2f}s"
        out.print(
            f"baseline ({origin}): passed {baseline.get('tests_passed')}, failed {baseline.get('tests_failed')}, "
            f"errored {baseline.get('tests_errored')}, flaky {baseline.get('flaky')}"
            + (f" — {_t(baseline['error'])}" if baseline.get("error") else "")
        )
    if moves:
        out.print(f"transitions (policy {_t(policy)}):")
        for name in TRANSITIONS_SHOWN:
            ids = [str(i) for i in moves.get(name) or []]
            if ids:
                more = f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else ""
                out.print(f"  {name} ({len(ids)}): {_t(', '.join(ids[:IDS_SHOWN]))}{more}")


def _proposal_fields(args: argparse.Namespace, id_prefix: str) -> dict[str, Any]:
    """A proposal from the command line (`run` and `submit` take the same arguments)."""
    return {
        "proposal_id": args.proposal_id or f"{id_prefix}-{uuid.uuid4().hex[:10]}",
        "project_id": args.project_id,
        "workspace": str(Path(args.workspace).resolve()),
        "language": args.language,
        "changes": _load_changes(args.changes),
        "test_command": args.test_command,
        "build_command": args.build_command,
        "target_tests": list(args.target_test or []),
    }


def _report(outcome: dict[str, Any], *, as_json: bool) -> int:
    """Print an outcome and return its exit code."""
    if as_json:
        out.print_json(json.dumps(outcome))
    else:
        render_outcome(outcome)
    return EXIT.get(outcome.get("status", "error"), 2)


def cmd_run(args: argparse.Namespace) -> int:
    from sigma_exec.executor import DockerExecutor
    from sigma_exec.pipeline import Proposal, run_pipeline

    settings = Settings().model_copy(update={"POOL_SIZE": 0})  # one proposal, then exit: nothing to keep warm
    proposal = Proposal(**_proposal_fields(args, "local"))
    with console.status("starting…") as status:
        executor = DockerExecutor(settings)
        outcome = run_pipeline(executor, proposal, settings, progress=lambda s: status.update(f"stage: {s}"))
    data = outcome.model_dump(mode="json")
    return _report(data, as_json=args.json)


def cmd_images(args: argparse.Namespace) -> int:
    from sigma_exec.docker_backend import DockerBackend
    from sigma_exec.errors import SigmaExecError
    from sigma_exec.images import base_image_ref, ensure_base_image
    from sigma_exec.languages import load_profiles, resolve_language

    settings = Settings()
    profiles = [resolve_language(name) for name in args.language] if args.language else list(load_profiles().values())
    try:
        backend = DockerBackend()
        for profile in profiles:
            if args.action == "list":
                ref = base_image_ref(profile, settings)
                out.print(f"{profile.name:12} {ref:60} {'present' if backend.image_id(ref) else 'missing'}")
                continue
            started = time.monotonic()
            ref = ensure_base_image(backend, profile, settings, progress=lambda msg: console.print(f"==> {_t(msg)}"))
            out.print(f"{profile.name}: {ref} ready ({time.monotonic() - started:.1f}s)")
    except SigmaExecError as exc:
        console.print(f"[red]error:[/] {_t(exc)}")
        return 2
    return 0


def cmd_reap(args: argparse.Namespace) -> int:
    from sigma_exec.errors import DockerUnavailableError, SigmaExecError
    from sigma_exec.executor import DockerExecutor

    settings = Settings()
    if not args.all:
        try:  # the queue layer knows which pipelines are alive and holds the reaper lock
            from tasks.lost import sweep_lost_pipelines
            from tasks.reaping import reap_node

            report = reap_node()
            # also: put back what dead workers held, and re-run or end lost pipelines
            report["pipelines"] = sweep_lost_pipelines(force=True).model_dump(mode="json")
            out.print_json(json.dumps(report))
            return 0
        except ImportError:
            pass
        except Exception as exc:  # Redis down or unreadable: the engine's own deadlines and states still reap
            console.print(f"[yellow]note:[/] pipeline leases not readable ({_t(exc)}); reaping by deadline and state")
    try:
        executor = DockerExecutor(settings)
        if not executor.available:
            raise DockerUnavailableError(executor.unavailable_reason or "docker unavailable")
        report = executor.reap(settings.node, time.time(), all_nodes=args.all)
        report.removed_images = executor.collect_images()
    except SigmaExecError as exc:
        console.print(f"[red]error:[/] {_t(exc)}")
        return 2
    out.print_json(report.model_dump_json())
    return 0 if not report.errors else 2


def cmd_submit(args: argparse.Namespace) -> int:
    from tasks import submit_proposal
    from tasks.client import follow

    result = submit_proposal(**_proposal_fields(args, "p"))
    if not args.wait:
        out.print(result.id)
        return 0
    console.print(f"queued as pipeline {_t(result.id)}")

    def show(info: dict[str, Any]) -> None:  # every stage the pipeline started, from its own history
        attempt = f" (re-run {info['attempt']})" if info.get("attempt") else ""
        console.print(f"  stage {_t(info.get('stage'))} on node {_t(info.get('node') or '?')}{attempt}")

    with console.status("waiting for the verdict…"):
        try:
            outcome = follow(result, show, timeout_s=args.timeout)
        except TimeoutError as exc:
            console.print(f"[red]error:[/] {_t(exc)}; `sigma-exec status` shows it later")
            return 2
    return _report(outcome, as_json=args.json)


def cmd_status(args: argparse.Namespace) -> int:
    from tasks.client import status

    outcome = status(args.proposal_id)
    if outcome is None:
        console.print(f"no outcome recorded for proposal {_t(repr(args.proposal_id))} (still running, or expired)")
        return 2
    if outcome.get("status") in ("queued", "running"):
        out.print(f"proposal {_t(args.proposal_id)}: {_t(outcome['status'])} (stage {_t(outcome.get('stage') or '-')})")
        return 3
    return _report(outcome, as_json=args.json)


def cmd_node(args: argparse.Namespace) -> int:
    from tasks.control import drain, resume

    if args.action == "resume":
        workers = resume(args.name)
        out.print(f"node {_t(args.name)} takes new pipelines again ({len(workers)} worker(s) answered)")
        return 0
    console.print(f"draining node {_t(args.name)}: it takes no new pipeline; waiting for those placed on it…")
    report = drain(args.name, timeout_s=args.timeout)
    out.print_json(report.model_dump_json())
    return 0 if report.empty else 2


def _proposal_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace", help="project directory (copied into the sandbox, never modified)")
    parser.add_argument("--language", "-l", required=True, help="python, javascript, typescript, java, go, ruby")
    parser.add_argument("--changes", help="JSON file: a list of {filepath, content | delete}")
    parser.add_argument("--project-id", default="cli")
    parser.add_argument("--proposal-id")
    parser.add_argument("--test-command")
    parser.add_argument("--build-command")
    parser.add_argument(
        "--target-test", action="append", metavar="TEST_ID", help="must-fix: a test id the change must fix (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigma-exec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a proposal pipeline in this process (no broker)")
    _proposal_args(run)
    run.set_defaults(func=cmd_run)
    submit = sub.add_parser("submit", help="enqueue a proposal through Celery + Redis")
    _proposal_args(submit)
    submit.add_argument("--wait", action="store_true", help="follow progress and print the outcome")
    submit.add_argument("--timeout", type=float, default=1800)
    submit.set_defaults(func=cmd_submit)
    status = sub.add_parser("status", help="print a submitted proposal's outcome")
    status.add_argument("proposal_id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    images = sub.add_parser("images", help="build or list the offline base images")
    images.add_argument("action", choices=["build", "list"])
    images.add_argument("--language", "-l", action="append", help="repeatable; default: every language")
    images.set_defaults(func=cmd_images)
    node = sub.add_parser("node", help="drain a node (no new pipelines, in-flight ones finish) or resume it")
    node.add_argument("action", choices=["drain", "resume"])
    node.add_argument("name", help="the node (its workers' SIGMA_NODE)")
    node.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the node to empty")
    node.set_defaults(func=cmd_node)
    reap = sub.add_parser("reap", help="remove expired or orphaned sandboxes on this node")
    reap.add_argument("--all", action="store_true", help="every node's containers on this engine")
    reap.set_defaults(func=cmd_reap)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sigma_exec.errors import SigmaExecError

    try:
        return int(args.func(args))
    except SigmaExecError as exc:
        console.print(f"[red]error:[/] {_t(exc)}")
        return 2
    except ValidationError as exc:  # a malformed proposal: name each bad field
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        console.print(f"[red]error:[/] invalid proposal: {_t(problems)}")
        return 2
    except KeyboardInterrupt:
        return 2


if __name__ == "__main__":
    sys.exit(main())
