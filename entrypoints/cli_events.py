"""`aethex events ...` and `aethex replay`: the analysts' commands.

export (JSON Lines), stats (counts by type and day), import (an export into an empty
store), docs (docs/events.md), and replay (read models as of a moment, elsewhere).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rich import box
from rich.console import Console
from rich.table import Table

from infra.eventstore.event_store import EventStore
from infra.eventstore.export import (
    EventFilter,
    expand_types,
    export,
    last_exported_position,
    parse_time,
    stats,
)
from infra.observability.progress import progress_bar, wants_progress
from infra.readstore.database import Database
from infra.settings import Settings


@contextmanager
def opened(settings: Settings) -> Iterator[tuple[EventStore, Database]]:
    """The event store and the live read database, without starting any worker."""
    from entrypoints.bootstrap import open_read_db
    from projections.base import migrate

    db = open_read_db(settings)  # first: it creates the PostgreSQL schema
    store = EventStore(settings.eventsourcing_env())
    # Only the tracking tables: CREATE INDEX IF NOT EXISTS on a live read model would
    # still lock it against the projector's writes for a moment.
    migrate(db, [])
    try:
        yield store, db
    finally:
        store.close()
        db.close()


def operator_table(*columns: str) -> Table:
    """An empty table for `show_table`; a column named ">name" is right-aligned."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        right = column.startswith(">")
        # Numbers never wrap; text folds on a narrow terminal rather than losing its end.
        table.add_column(column.removeprefix(">"), justify="right" if right else "left",
                         no_wrap=right, overflow="fold")
    return table


def show_table(table: Table) -> None:
    """Prints an operator's table on stdout: drawn by rich on a terminal; into a pipe or a
    file, plain aligned columns (no box, no escapes, no wrapping at 80 columns, no
    trailing blanks) as scripts and grep read them."""
    if sys.stdout.isatty():
        table.box = box.SIMPLE
        # No markup or highlighting: cells are data (an error may hold "[...]").
        Console(markup=False, highlight=False, emoji=False).print(table)
        return
    plain = Console(file=io.StringIO(), color_system=None, force_terminal=False,
                    width=1 << 16, markup=False, highlight=False, emoji=False)
    plain.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n"
                             for line in plain.file.getvalue().splitlines()))


def _fail(message: str) -> int:
    print(f"aethex: {message}", file=sys.stderr)
    return 2


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", action="append", default=[], metavar="TYPE",
                   help="event type (repeatable); 'Stream' or 'Stream.*' for all of an aggregate")
    p.add_argument("--aggregate", help="only this aggregate id")
    p.add_argument("--channel", help="only events of this channel id")
    p.add_argument("--since", help="only events at or after this ISO 8601 time (UTC if no offset)")
    p.add_argument("--until", help="only events at or before this ISO 8601 time")
    p.add_argument("--from", dest="first", type=int, default=1, metavar="POS",
                   help="first log position (inclusive)")
    p.add_argument("--to", dest="last", type=int, default=None, metavar="POS",
                   help="last log position (inclusive)")
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto")


def _filter(args: argparse.Namespace) -> EventFilter:
    return EventFilter(
        types=expand_types(args.type) if args.type else (),
        aggregate=args.aggregate, channel=args.channel,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        after=max(0, args.first - 1), upto=args.last)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `events` and `replay` on the `aethex` parser."""
    events = sub.add_parser("events", help="export, count, import and document the event log")
    esub = events.add_subparsers(dest="events_command", required=True)

    p = esub.add_parser("export", help="the log as JSON Lines (stdout or --output), or as "
                                       "Parquet (a file per event type in --output DIR)")
    _add_filters(p)
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl",
                   help="jsonl (default) or parquet (needs the analytics extra)")
    p.add_argument("-o", "--output", type=Path,
                   help="write to this file instead of stdout (parquet: this directory)")
    p.add_argument("--resume", action="store_true",
                   help="append to --output after the last position it holds")
    p.set_defaults(run=cmd_export)

    p = esub.add_parser("stats", help="event counts by type and day")
    _add_filters(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_stats)

    p = esub.add_parser("import", help="append an export to the event store (e.g. an empty one)")
    p.add_argument("file", help="a JSON Lines export, or - for stdin")
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto")
    p.set_defaults(run=cmd_import)

    p = esub.add_parser("docs", help="write docs/events.md from the domain code")
    p.add_argument("--check", action="store_true", help="only check that the file is current")
    p.add_argument("-o", "--output", type=Path, default=None)
    p.set_defaults(run=cmd_docs)

    p = sub.add_parser("replay", help="build read models as of a moment into another "
                                      "PostgreSQL schema or SQLite file")
    p.add_argument("--until", help="ISO 8601 time; default: now (the whole log)")
    p.add_argument("--into", required=True,
                   help="a PostgreSQL schema name, or a SQLite file path (has a '/' or .sqlite)")
    p.add_argument("--projection", action="append", default=[], metavar="NAME",
                   help="only this projection (repeatable); default: all")
    p.add_argument("--replace", action="store_true", help="drop the target first")
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto")
    p.set_defaults(run=cmd_replay)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    try:
        flt = _filter(args)
    except ValueError as e:
        return _fail(str(e))
    if args.format == "parquet":
        return _export_parquet(settings, args, flt)
    if args.resume:
        if args.output is None:
            return _fail("--resume needs --output FILE")
        done = last_exported_position(args.output)
        if done is not None:
            flt = EventFilter(**{**flt.__dict__, "after": max(flt.after, done)})
    show = wants_progress(args.progress, data_on_stdout=args.output is None)
    with opened(settings) as (store, _):
        out: BinaryIO
        if args.output is None:
            out = sys.stdout.buffer
        else:
            out = args.output.open("ab" if args.resume else "wb")
        try:
            with progress_bar("export", enabled=show, start=flt.after) as bar:
                written, last = export(store, out, flt, batch_size=args.batch_size,
                                       on_scanned=lambda pos: bar.update(pos, store.head()))
        except BrokenPipeError:  # `export | head`: the reader has had enough
            # Point stdout at /dev/null so the flush at exit does not complain again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        finally:
            if args.output is not None:
                out.close()
    where = f" to {args.output}" if args.output else ""
    print(f"exported {written} events{where}; last position {last}", file=sys.stderr)
    return 0


def _export_parquet(settings: Settings, args: argparse.Namespace, flt: EventFilter) -> int:
    from infra.eventstore.parquet_export import ParquetUnavailable, export_parquet

    if args.output is None:
        return _fail("--format parquet writes a file per event type: name a directory "
                     "with --output DIR")
    if args.resume:
        return _fail("--resume is for JSON Lines exports; a Parquet export is written whole")
    if args.output.exists() and not args.output.is_dir():
        return _fail(f"{args.output} is a file; --format parquet needs a directory")
    show = wants_progress(args.progress, data_on_stdout=False)
    try:
        with opened(settings) as (store, _), progress_bar("export", enabled=show) as bar:
            rows = export_parquet(store, args.output, flt,
                                  batch_size=max(args.batch_size, 1),
                                  on_scanned=lambda pos: bar.update(pos, store.head()))
    except ParquetUnavailable as e:
        return _fail(str(e))
    print(f"exported {sum(rows.values())} events to {args.output}/ as {len(rows)} Parquet "
          f"files (one per event type)", file=sys.stderr)
    return 0


def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    try:
        flt = _filter(args)
    except ValueError as e:
        return _fail(str(e))
    show = wants_progress(args.progress, data_on_stdout=True)
    with opened(settings) as (store, _), progress_bar("stats", enabled=show) as bar:
        counts = stats(store, flt, batch_size=args.batch_size,
                       on_scanned=lambda pos: bar.update(pos, store.head()))
    if args.json:
        rows = [{"type": t, "day": d, "count": n} for (t, d), n in counts.items()]
        print(json.dumps({"counts": rows, "total": sum(counts.values())}, indent=2))
        return 0
    table = operator_table("type", "day", ">count")
    for (type_name, day), n in counts.items():
        table.add_row(type_name, day, f"{n:,}")
    table.show_footer = True
    table.columns[0].footer, table.columns[2].footer = "total", f"{sum(counts.values()):,}"
    show_table(table)
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from workers.replay import ReplayError, import_events

    source = sys.stdin.buffer if args.file == "-" else Path(args.file).open("rb")  # noqa: SIM115
    show = wants_progress(args.progress, data_on_stdout=False)
    try:
        with opened(settings) as (store, _), progress_bar("import", enabled=show) as bar:
            count, last = import_events(store, source, batch_size=args.batch_size,
                                        on_imported=lambda pos: bar.update(pos, pos))
    except ReplayError as e:
        return _fail(str(e))
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    print(f"imported {count} events; head is now {last}", file=sys.stderr)
    return 0


def cmd_docs(settings: Settings, args: argparse.Namespace) -> int:
    from infra.eventstore import event_docs

    path = args.output or event_docs.DOCS_PATH
    if args.check:
        if event_docs.is_current(path):
            print(f"{path} is current")
            return 0
        return _fail(f"{path} is stale: run `aethex events docs`")
    changed = event_docs.write(path)
    print(f"{'wrote' if changed else 'unchanged:'} {path}")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from projections.registry import all_projections
    from workers.replay import ReplayError, open_target, project_into

    projections = all_projections()
    if args.projection:
        known = {p.name for p in projections}
        unknown = sorted(set(args.projection) - known)
        if unknown:
            return _fail(f"unknown projection(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
        projections = [p for p in projections if p.name in args.projection]
    try:
        until = parse_time(args.until) if args.until else None
        target = open_target(settings, args.into, replace=args.replace)
    except (ValueError, ReplayError) as e:
        return _fail(str(e))
    show = wants_progress(args.progress, data_on_stdout=False)
    try:
        with opened(settings) as (store, _), progress_bar("replay", enabled=show) as bar:
            position = project_into(store, target, projections, until=until,
                                    batch_size=args.batch_size,
                                    on_scanned=lambda pos: bar.update(pos, store.head()))
    finally:
        target.close()
    moment = until.isoformat() if until else "now"
    print(f"replayed {', '.join(p.name for p in projections)} as of {moment} into "
          f"{args.into} (log scanned to position {position})", file=sys.stderr)
    return 0
