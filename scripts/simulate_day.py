"""A Twitch-scale day, replayed on paper against the measured cost of each part.

Channels live at each hour of a day follow a daily curve; each live channel's audience is
drawn from a heavy-tailed (Pareto) distribution, so a few channels hold most viewers, as
on Twitch; a share of each audience chats at a few messages a minute, less in the large
rooms (slow mode, and people read more than they write there). From that the script works
out, hour by hour, what each part of the production topology has to carry:

  writes      chat messages (+ the other events: viewer samples, follows, stream changes)
              appended to the event store
  relay       events read from the log and published to RabbitMQ
  broker      messages through RabbitMQ: the relay's batches to each projector queue and
              each API node's event queue, and the live exchange's copies
  projectors  events applied by each read model's projector
  sockets     open connections, and frames written to them (a room gets at most one
              frame per coalescing window, so a big room's frames are capped)

and divides the peak hour by what one unit of each part sustains, measured on this machine
(`docs/scaling.md` gives the figures and where they come from; override them with the
options below), with a target utilisation, to print the machines each part needs.

Run: .venv/bin/python scripts/simulate_day.py [--peak-viewers N] [--seed S] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import asdict, dataclass

# The shape of a day (share of the peak's live channels, per hour UTC): low in the
# European night, peaking in the American evening.
DAY = [0.78, 0.70, 0.62, 0.55, 0.48, 0.42, 0.38, 0.36, 0.38, 0.43, 0.50, 0.56,
       0.62, 0.68, 0.74, 0.80, 0.86, 0.92, 0.97, 1.00, 0.99, 0.95, 0.90, 0.84]


@dataclass
class Costs:
    """What one unit of each part sustains (events, messages or frames per second), from
    this machine's measurements (docs/scaling.md)."""

    # One PostgreSQL's event log, written by group commit: the COPY ceiling of the disk and
    # server (rows/s), of which the group commit reaches a share.
    store_rows_per_s: float = 40_000
    # One writer (an API node's group-commit thread), CPU-bound in Python.
    writer_per_core: float = 38_000
    relay_per_core: float = 100_000
    projector_per_core: float = 80_000
    # Per API node core: socket frames written per second (a frame is one write to one
    # connection) and connections held.
    frames_per_core: float = 100_000
    connections_per_node: float = 10_000
    # RabbitMQ messages per second per node (a batch of events is one message).
    broker_msgs_per_node: float = 20_000


@dataclass
class Shape:
    """The audience: the assumptions the day is drawn from."""

    peak_viewers: int = 7_000_000      # concurrent viewers at the busiest hour
    peak_channels: int = 100_000       # channels live at that hour
    pareto_alpha: float = 1.2          # tail of audience sizes (smaller: heavier)
    chatters_share: float = 0.08       # of a room's viewers, those who chat at all
    msgs_per_chatter_min: float = 1.5  # each chatter's messages a minute in a small room
    big_room: int = 10_000             # above this, chat per viewer thins out
    other_events_share: float = 0.15   # non-chat events (viewer samples, follows, ...) per chat msg
    coalesce_s: float = 0.010          # AETHEX_WS_COALESCE_MS
    relay_batch: int = 200             # events per AMQP message under load
    projectors: int = 18               # read models, one projector each
    api_cores: int = 2                 # cores of one API node
    utilisation: float = 0.6           # the share of a part's capacity planned for


def audiences(shape: Shape, channels: int, viewers: int, rng: random.Random) -> list[int]:
    """Viewers per live channel: Pareto-distributed, scaled to `viewers` in total."""
    draws = [rng.paretovariate(shape.pareto_alpha) for _ in range(channels)]
    scale = viewers / sum(draws)
    return [max(0, round(d * scale)) for d in draws]


def hour(shape: Shape, factor: float, rng: random.Random) -> dict[str, float]:
    channels = max(1, round(shape.peak_channels * factor))
    rooms = audiences(shape, channels, round(shape.peak_viewers * factor), rng)
    chat = 0.0       # messages/s
    frames = 0.0     # socket writes/s
    for viewers in rooms:
        if viewers == 0:
            continue
        # Big rooms: chat per viewer thins as the square root of the size beyond big_room.
        thinning = 1.0 if viewers <= shape.big_room else math.sqrt(shape.big_room / viewers)
        rate = viewers * shape.chatters_share * shape.msgs_per_chatter_min / 60 * thinning
        chat += rate
        # Each viewer gets a frame per message, but at most one per coalescing window.
        frames += viewers * min(rate, 1 / shape.coalesce_s)
    events = chat * (1 + shape.other_events_share)
    return {"channels": channels, "viewers": sum(rooms), "biggest_room": max(rooms),
            "chat_per_s": chat, "events_per_s": events, "frames_per_s": frames}


def machines(shape: Shape, costs: Costs, peak: dict[str, float]) -> dict[str, dict[str, float]]:
    u = shape.utilisation
    events = peak["events_per_s"]
    # Every projector queue and every API node's event queue gets the relay's batches;
    # the live exchange carries each chat batch to every API node.
    api_nodes = max(
        math.ceil(peak["viewers"] / (costs.connections_per_node * u)),
        math.ceil(peak["frames_per_s"] / (costs.frames_per_core * shape.api_cores * u)))
    batches = events / shape.relay_batch
    broker = batches * (shape.projectors + api_nodes) * 2  # events + live copies
    return {
        "event store (PostgreSQL log shards)": {
            "load": events, "unit": costs.store_rows_per_s,
            "count": math.ceil(events / (costs.store_rows_per_s * u))},
        "group-commit writers (cores)": {
            "load": peak["chat_per_s"], "unit": costs.writer_per_core,
            "count": math.ceil(peak["chat_per_s"] / (costs.writer_per_core * u))},
        "relay (cores, one per log shard at least)": {
            "load": events, "unit": costs.relay_per_core,
            "count": math.ceil(events / (costs.relay_per_core * u))},
        "projectors (cores, all read models)": {
            "load": events * shape.projectors, "unit": costs.projector_per_core,
            "count": math.ceil(events * shape.projectors / (costs.projector_per_core * u))},
        "RabbitMQ (nodes)": {
            "load": broker, "unit": costs.broker_msgs_per_node,
            "count": max(3, math.ceil(broker / (costs.broker_msgs_per_node * u)))},
        "API nodes (sockets)": {
            "load": peak["frames_per_s"], "unit": costs.frames_per_core * shape.api_cores,
            "count": api_nodes},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for group, defaults in (("shape", Shape()), ("costs", Costs())):
        for key, value in asdict(defaults).items():
            parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value,
                                help=f"{group}: default {value}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = vars(parser.parse_args())
    shape = Shape(**{k: args[k] for k in asdict(Shape())})
    costs = Costs(**{k: args[k] for k in asdict(Costs())})
    rng = random.Random(args["seed"])
    day = [hour(shape, factor, rng) for factor in DAY]
    # Each figure at its own busiest hour (the biggest rooms are not always live when the
    # most channels are): what each part must be sized for.
    peak = {key: max(h[key] for h in day) for key in day[0]}
    need = machines(shape, costs, peak)
    if args["json"]:
        print(json.dumps({"day": day, "peak": peak, "machines": need}))
        return 0
    print("hour  channels    viewers  biggest room   chat msg/s   events/s   socket frames/s")
    for h, row in enumerate(day):
        print(f"{h:4d} {row['channels']:9,.0f} {row['viewers']:10,.0f} "
              f"{row['biggest_room']:13,.0f} {row['chat_per_s']:12,.0f} "
              f"{row['events_per_s']:10,.0f} {row['frames_per_s']:17,.0f}")
    total_chat = sum(r["chat_per_s"] for r in day) * 3600
    print(f"\nthe day: {total_chat:,.0f} chat messages; busiest hours: "
          f"{peak['events_per_s']:,.0f} events/s, {peak['viewers']:,.0f} viewers, "
          f"{peak['frames_per_s']:,.0f} socket frames/s")
    print(f"\nmachines for the busiest hour of each, planned at {shape.utilisation:.0%} of "
          "each unit's measured capacity:")
    for part, n in sorted(need.items(), key=lambda kv: -kv[1]["load"] / kv[1]["unit"]):
        print(f"  {part:44s} load {n['load']:>12,.0f}/s  unit {n['unit']:>9,.0f}/s  "
              f"-> {n['count']:,}")
    first = max(need.items(), key=lambda kv: kv[1]["load"] / kv[1]["unit"])
    print(f"\nfirst to saturate as chat grows (load / one unit): {first[0]}")
    # The parts that grow by adding nodes without a code change are the API nodes, the
    # projectors and RabbitMQ; the event log is one PostgreSQL until it is partitioned.
    store = need["event store (PostgreSQL log shards)"]
    print(f"one PostgreSQL log holds until chat grows "
          f"{store['unit'] * shape.utilisation / store['load']:.1f}x this day's peak; past "
          "that, the log is partitioned by channel (docs/scaling.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
