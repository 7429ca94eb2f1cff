"""`aethex projections ...`: the operators' commands.

list (position, head, lag, last error), rebuild (shadow build, catch up, atomic swap; safe
to interrupt and rerun), reset (empty a read model, with a confirmation).
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.text import Text

from entrypoints.cli_events import opened, operator_table, show_table
from infra.observability.progress import progress_bar, wants_progress
from infra.settings import Settings
from projections.base import Projection
from projections.registry import all_projections


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `projections` on the `aethex` parser."""
    projections = sub.add_parser("projections", help="list, rebuild and reset read models")
    psub = projections.add_subparsers(dest="projections_command", required=True)

    p = psub.add_parser("list", help="each projection's position, lag, state and last error")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_list)

    p = psub.add_parser("rebuild", help="rebuild into shadow tables, then swap atomically")
    p.add_argument("name")
    p.add_argument("--fresh", action="store_true",
                   help="discard an interrupted rebuild's shadow instead of resuming it")
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto")
    p.set_defaults(run=cmd_rebuild)

    p = psub.add_parser("reset", help="empty a read model; its projector replays the log")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(run=cmd_reset)


def _projection(name: str) -> Projection | None:
    for p in all_projections():
        if p.name == name:
            return p
    known = ", ".join(p.name for p in all_projections())
    print(f"aethex: unknown projection {name!r}; known: {known}", file=sys.stderr)
    return None


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from projections.lag import projection_status

    with opened(settings) as (store, db):
        status = projection_status(store, db, all_projections(), stall_s=settings.stall_s)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0

    def state(p: dict[str, object]) -> Text:
        return Text("STALLED", style="bold red") if p["stalled"] else Text("ok", style="green")

    table = operator_table("name", ">position", ">head", ">lag", ">lag s", "state",
                           "last error")
    for p in status["projections"]:
        table.add_row(p["name"], str(p["position"]), str(p["head"]), str(p["lagEvents"]),
                      f"{p['lagSeconds']:.1f}", state(p), p["lastError"] or "")
    relay = status["relay"]
    table.add_row("(relay)", str(relay["position"]), str(status["head"]),
                  str(relay["lagEvents"]), f"{relay['lagSeconds']:.1f}", state(relay), "")
    show_table(table)
    if status["stalled"] or relay["stalled"]:
        print(f"stalled: work waiting and no progress for over {settings.stall_s:g} s "
              "(AETHEX_STALL_S)", file=sys.stderr)
    return 0


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from workers.rebuild import ShadowRebuild

    projection = _projection(args.name)
    if projection is None:
        return 2
    show = wants_progress(args.progress, data_on_stdout=False)
    with opened(settings) as (store, db):
        rebuild = ShadowRebuild(settings, store, db, projection, batch_size=args.batch_size)
        if args.fresh:
            rebuild.discard_shadow()
        earlier = rebuild.shadow_position()
        if earlier:
            print(f"resuming the interrupted rebuild of {projection.name} from position "
                  f"{earlier}", file=sys.stderr)
        with progress_bar(f"rebuild {projection.name}", enabled=show,
                          start=earlier or 0) as bar:
            rebuild.on_progress = bar.update
            try:
                report = rebuild.run()
            except KeyboardInterrupt:
                print(f"\ninterrupted; the live {projection.name} is untouched. Run the same "
                      "command again to resume.", file=sys.stderr)
                return 130
    print(f"rebuilt {report.name}: {report.events:,} events, log positions "
          f"{report.resumed_from:,} -> {report.position:,} in {report.seconds:.1f} s "
          f"({report.rate:,.0f} positions/s); swapped in", file=sys.stderr)
    return 0


def cmd_reset(settings: Settings, args: argparse.Namespace) -> int:
    from workers.rebuild import reset

    projection = _projection(args.name)
    if projection is None:
        return 2
    if not args.yes:
        try:
            answer = input(f"Empty {', '.join(projection.tables)} and replay "
                           f"{projection.name} from the start? Type its name to confirm: ")
        except EOFError:
            answer = ""
        if answer.strip() != projection.name:
            print("not confirmed; nothing changed", file=sys.stderr)
            return 1
    from projections.base import migrate

    with opened(settings) as (_, db):
        migrate(db, [projection])
        reset(db, projection)
    print(f"reset {projection.name}: its projector replays the log from the start "
          "(at its next batch, or when it starts)", file=sys.stderr)
    return 0
