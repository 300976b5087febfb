"""signac-flow's command line for a FlowProject: ``python project.py status|run|submit|exec|
next`` with signac-flow 0.29's options. Options suite does not support are refused with a
one-line error naming them; every error prints as one line with exit status 1."""

import argparse
import os
import sys

from suite.errors import SuiteError
from suite.terminal import visible

IGNORE = ("none", "pre", "post", "all")

#: signac-flow options accepted but not supported: destination -> (option, what instead)
REFUSED = {
    "profile": ("--profile", "time 'python project.py status' instead"),
    "show_template_help": ("--template-help", "see docs/coming-from-signac-flow.md"),
    "switch_to_project_root": ("--switch-to-project-root", "run from the project directory"),
    "ignore_conditions_on_execution": ("--ignore-conditions-on-execution",
                                       "conditions are checked again when the job starts"),
    "expand": ("-e/--expand", "use -d/--detailed"),
    "compact": ("-1/--one-line", "use -d/--detailed"),
}


def _selection(parser):
    parser.add_argument("-j", "--job-id", nargs="+", help="Only these job (or aggregate) ids.")
    parser.add_argument("-f", "--filter", nargs="+", help="Only jobs matching this filter.")


def _operations(parser):
    parser.add_argument("-o", "--operation", dest="operation_name", nargs="+",
                        help="Only operations or groups matching these regular expressions.")
    parser.add_argument("-n", "--num", type=int, help="At most N operations.")


def _ignore(parser, name="--ignore-conditions", dest="ignore_conditions"):
    parser.add_argument(name, dest=dest, choices=IGNORE, default="none",
                        help="Conditions to ignore for eligibility.")


def build_parser(parser=None):
    """The argparse parser of a project.py's command line."""
    parser = parser or argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0)
    common.add_argument("--debug", action="store_true")
    # before the command too, as signac-flow takes them (accepted and ignored, as after it);
    # their own names, so the command's defaults do not overwrite them
    parser.add_argument("-v", "--verbose", dest="main_verbose", action="count", default=0)
    parser.add_argument("--debug", dest="main_debug", action="store_true")
    sub = parser.add_subparsers(dest="command")

    status = sub.add_parser("status", parents=[common], help="Show the status.")
    _selection(status)
    status.add_argument("-o", "--operation", nargs="+")
    status.add_argument("--json", dest="dump_json", action="store_true")
    status.add_argument("-d", "--detailed", action="store_true")
    status.add_argument("-a", "--all-operations", dest="all_ops", action="store_true")
    status.add_argument("--only-incomplete-operations", dest="only_incomplete",
                        action="store_true")
    status.add_argument("--stack", action="store_false", dest="unroll")
    status.add_argument("-1", "--one-line", dest="compact", action="store_true")
    status.add_argument("-e", "--expand", action="store_true")
    status.add_argument("--pretty", action="store_true")
    status.add_argument("--full", action="store_true")
    status.add_argument("--no-overview", action="store_false", dest="overview")
    status.add_argument("-m", "--overview-max-lines", type=int)
    status.add_argument("-p", "--parameters", nargs="*")
    status.add_argument("--param-max-width", type=int)
    status.add_argument("--eligible-jobs-max-lines", type=int)
    status.add_argument("--ignore-errors", action="store_true")
    status.add_argument("--output-format", default="terminal",
                        choices=("terminal", "markdown", "html"))
    status.add_argument("--profile", nargs="?", const=True)
    status.add_argument("--hide-progress", action="store_true")

    nxt = sub.add_parser("next", parents=[common], help="Jobs eligible for an operation.")
    nxt.add_argument("name")

    run = sub.add_parser("run", parents=[common], help="Run eligible operations.")
    _selection(run)
    _operations(run)
    run.add_argument("--pretend", action="store_true")
    run.add_argument("--progress", action="store_true")
    run.add_argument("--num-passes", type=int, default=1)
    run.add_argument("-t", "--timeout", type=float)
    run.add_argument("--switch-to-project-root", action="store_true")
    run.add_argument("-p", "--parallel", type=int, nargs="?", const=-1)
    run.add_argument("--order", choices=("none", "by-job", "cyclic", "random"))
    _ignore(run)

    submit = sub.add_parser("submit", parents=[common], help="Submit eligible operations.")
    submit.add_argument("flags", nargs="*", help="Flags passed to the scheduler.")
    submit.add_argument("--pretend", action="store_true")
    submit.add_argument("--force", action="store_true")
    _ignore(submit)
    _ignore(submit, "--ignore-conditions-on-execution", "ignore_conditions_on_execution")
    _selection(submit)
    _operations(submit)
    submit.add_argument("-b", "--bundle", type=int, nargs="?", const=0, default=1,
                        dest="bundle_size")
    submit.add_argument("-p", "--parallel", action="store_true")
    submit.add_argument("--template", default="script.sh")
    submit.add_argument("--template-help", dest="show_template_help", action="store_true")
    submit.add_argument("--hold", action="store_true")
    submit.add_argument("--after")
    submit.add_argument("-w", "--walltime", type=float)

    exe = sub.add_parser("exec", parents=[common], help="Run an operation, ignoring its "
                         "conditions.")
    exe.add_argument("operation")
    exe.add_argument("job_id", nargs="*")
    return parser


def main(project, parser=None, argv=None):
    """Parse ``argv`` (default: the command line) and run the command on ``project``."""
    args = build_parser(parser).parse_args(argv)
    if not getattr(args, "command", None):
        build_parser().print_usage()
        sys.exit(2)
    if type(project).workflow_file is None:
        # the file whose main() this is: a forked or submitted operation loads it again
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file:
            type(project).workflow_file = os.path.realpath(main_file)
    try:
        COMMANDS[args.command](project, args)
    except SuiteError as exc:
        print(f"error: {visible(exc)}", file=sys.stderr)  # names in it come from users
        sys.exit(1)


def _refuse(args):
    for dest, (option, instead) in REFUSED.items():
        if getattr(args, dest, None) not in (None, False, "none"):
            raise SuiteError(f"{option} (signac-flow) is not supported by suite.flow: {instead}")


def _jobs(project, args):
    """The jobs (or aggregates) chosen by -j/-f, or None for all; -j takes job ids, unique
    prefixes and aggregate ids."""
    if args.job_id and args.filter:
        raise SuiteError("give either -j/--job-id or -f/--filter, not both")
    if args.job_id:
        return [_aggregate(project, i) for i in args.job_id]
    if args.filter:
        from suite.query import parse_cli_filter

        return list(project.find_jobs(parse_cli_filter(args.filter)))
    return None


def _aggregate(project, text):
    if not text.startswith("agg-"):
        return project.open_job(id=text)
    from .aggregates import get_aggregate_id

    runner = project.make_runner()
    jobs = runner.find_jobs()
    found = {}  # an id or, as signac-flow takes them, its unique beginning
    for op in list(project.operation_table.values()) + list(project.group_table.values()):
        for unit in runner.units(op, jobs, {}):
            agg_id = get_aggregate_id(unit)
            if agg_id == text:
                return unit
            if agg_id.startswith(text):
                found[agg_id] = unit
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        raise SuiteError(f"the aggregate id {text} is ambiguous: {', '.join(sorted(found)[:5])}"
                         + (" ..." if len(found) > 5 else ""))
    raise SuiteError(f"no aggregate with id {text} in {project.path}")


def _status(project, args):
    _refuse(args)
    jobs = _jobs(project, args)
    if args.dump_json:
        import json

        runner = project.make_runner()
        ids = None if jobs is None else [j.id for u in jobs
                                         for j in (u if isinstance(u, tuple) else (u,))]
        print(json.dumps(runner.status(None, None, ids).to_json(), indent=2, sort_keys=True))
        return
    full = args.full
    project.print_status(jobs=jobs, overview=args.overview, parameters=args.parameters,
                         detailed=args.detailed or full, all_ops=args.all_ops or full,
                         only_incomplete=args.only_incomplete,
                         output_format=args.output_format, pretty=args.pretty,
                         operation=args.operation)


def _next(project, args):
    if args.name not in project.operation_table:
        print(f"The requested flow operation '{args.name}' does not exist.", file=sys.stderr)
        return
    for aggregate_id in project.eligible_ids(args.name):
        print(aggregate_id)


def _run(project, args):
    from .project import IgnoreConditions

    _refuse(args)
    project.run(jobs=_jobs(project, args), names=args.operation_name, pretend=args.pretend,
                np=args.parallel, timeout=args.timeout, num=args.num,
                num_passes=args.num_passes, progress=args.progress, order=args.order,
                ignore_conditions=IgnoreConditions[args.ignore_conditions.upper()])


def _submit(project, args):
    _refuse(args)
    if args.ignore_conditions != "none":
        raise SuiteError("submit --ignore-conditions (signac-flow) is not supported by "
                         "suite.flow")
    if args.walltime is not None:
        raise SuiteError("submit -w/--walltime (signac-flow) is not supported by suite.flow: "
                         "give the operations a walltime directive")
    done = project.submit(jobs=_jobs(project, args), bundle_size=args.bundle_size,
                          names=args.operation_name, num=args.num, parallel=args.parallel,
                          pretend=args.pretend, template=args.template, flags=args.flags,
                          hold=args.hold, after=[args.after] if args.after else [])
    if not args.pretend:
        print(f"submitted {len(done)} script(s): {' '.join(done)}")


def _exec(project, args):
    """Run the operation on the given jobs or aggregates, whatever its conditions say."""
    from .aggregates import get_aggregate_id

    if args.operation not in project.operation_table and args.operation not in project.group_table:
        raise SuiteError(f"no operation {args.operation!r} (known: "
                         f"{', '.join(sorted(project.operation_table))})")
    runner = project.make_runner()
    op = project.operation_table.get(args.operation) or project.group_table[args.operation]
    units = runner.units(op, runner.find_jobs(), {})
    if args.job_id:
        # as signac-flow: only the operation's own aggregates (an aggregate operation is
        # never called with a job it does not aggregate that way)
        known = {get_aggregate_id(u): u for u in units}
        chosen = [u if isinstance(u, tuple) else (u,)
                  for u in (_aggregate(project, i) for i in args.job_id)]
        missing = [get_aggregate_id(u) for u in chosen if get_aggregate_id(u) not in known]
        if missing:
            raise SuiteError(f"{missing[0]} is not one of the aggregates of {args.operation} "
                             f"('python project.py next {args.operation}' lists the eligible "
                             "ones)")
        units = chosen
    if args.operation in project.group_table:
        from .project import refuse_unapplied

        refuse_unapplied(project, [args.operation], "run_options")
        statuses = [runner.execute_group(op, unit) for unit in units]
    else:
        statuses = [runner.execute(op, unit) for unit in units]
    if "failure" in statuses:
        raise SuiteError(f"{args.operation} failed on {statuses.count('failure')} of "
                         f"{len(units)} job(s) (see the traceback above)")


COMMANDS = {"status": _status, "next": _next, "run": _run, "submit": _submit, "exec": _exec}
