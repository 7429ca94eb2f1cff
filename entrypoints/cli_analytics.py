"""`aethex analytics`: the plan's success metrics over a period, from the event log, as a
table, JSON (`--json`) or a self-contained HTML report (`--html FILE`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

from entrypoints.cli_events import opened, operator_table, show_table
from infra.eventstore.export import parse_time
from infra.observability.progress import progress_bar, wants_progress
from infra.settings import Settings
from workers.analytics.metrics import analyse
from workers.analytics.report import PeriodError


def _fail(message: str) -> int:
    print(f"aethex analytics: {message}", file=sys.stderr)
    return 2


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `analytics` on the `aethex` parser."""
    p = sub.add_parser("analytics", help="the plan's success metrics over a period, from "
                                         "the event log")
    p.add_argument("--since", help="start of the period, ISO 8601 (UTC if no offset); "
                                   "default: the log's first event")
    p.add_argument("--until", help="end of the period; default: the log's last event")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    out.add_argument("--html", type=Path, metavar="FILE",
                     help="write a self-contained HTML report (needs the analytics extra)")
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto")
    p.set_defaults(run=cmd_analytics)


def cmd_analytics(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as e:
        return _fail(str(e))
    if since is not None and until is not None and until < since:
        return _fail(f"--until ({until.isoformat()}) is before --since ({since.isoformat()})")
    render = None
    if args.html is not None:
        from entrypoints.analytics_html import ChartsUnavailable, pyplot, render

        try:  # before reading the log: a missing extra fails at once
            pyplot()
        except ChartsUnavailable as e:
            return _fail(str(e))
    show = wants_progress(args.progress, data_on_stdout=args.html is None)
    try:
        with opened(settings) as (store, _), progress_bar("analytics", enabled=show) as bar:
            report, series = analyse(store, since, until,
                                     on_scanned=lambda pos: bar.update(pos, store.head()))
    except PeriodError as e:
        return _fail(e.message)
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2))
        return 0
    if render is not None:
        args.html.write_text(render(report, series), encoding="utf-8")
        met = sum(1 for m in report.metrics if m.met)
        judged = sum(1 for m in report.metrics if m.met is not None)
        print(f"wrote {args.html}: {met} of {judged} measured targets met", file=sys.stderr)
        return 0
    table = operator_table("metric", ">value", ">target", "met")
    for m in report.metrics:
        value = "-" if m.value is None else f"{m.value:,.2f}".rstrip("0").rstrip(".")
        target = "-" if m.target is None else f"{m.comparison} {m.target:g}"
        met = "-" if m.met is None else "yes" if m.met else "no"
        table.add_row(m.name, f"{value} {m.unit}" if m.value is not None else value, target,
                      met)
    print(f"{report.since} to {report.until}: {report.events:,} events, "
          f"{len(report.streams):,} streams", file=sys.stderr)
    show_table(table)
    return 0
