"""Analytics over a generated month whose answers are known: every metric exactly, the same
after export and import into an empty store, the CLI's output and refusals, the Parquet
export answering docs/analytics.md's DuckDB questions, and refused sends becoming events."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import duckdb
import pytest

from commands.chat_refusals import RefusalTally
from infra.eventstore.event_store import EventStore
from infra.eventstore.export import EventFilter, export
from infra.eventstore.parquet_export import export_parquet
from scripts.gen_activity import MONTH_START, Expected, generate
from tests.unit.support import World
from workers.analytics.metrics import analyse, analyse_channel
from workers.analytics.report import PeriodError, Report
from workers.chat_refusal_recorder import ChatRefusalRecorder
from workers.replay import import_events

ROOT = Path(__file__).resolve().parents[2]
MONTH_END = MONTH_START + timedelta(days=30)


def _sqlite(path: Path) -> EventStore:
    return EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                       "SQLITE_DBNAME": str(path)})


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected, Report]:
    """A generated month in an SQLite store (the CLI's data directory), its answers, and
    the report over it."""
    where = tmp_path_factory.mktemp("month")
    store = _sqlite(where / "events.sqlite")
    try:
        expected = generate(store, seed=11)
        report, _ = analyse(store, MONTH_START, MONTH_END)
    finally:
        store.close()
    return where, expected, report


def test_every_metric_is_the_generated_answer(month: tuple[Path, Expected, Report]) -> None:
    _, expected, report = month
    want = expected.metrics()
    got = {m.key: m.value for m in report.metrics}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == (None if value is None else pytest.approx(value, rel=1e-9)), key
    assert got["peak_concurrent_viewers"] > max(x["peak"] for x in expected.streams.values())
    # Per stream and per day, the figures the metrics come from.
    figures = {f.stream_id: f for f in report.streams}
    assert figures.keys() == expected.streams.keys()
    for sid, x in expected.streams.items():
        f = figures[sid]
        assert (f.messages, f.peak_viewers) == (x["messages"], x["peak"])
        assert f.viewer_minutes == pytest.approx(x["viewer_minutes"], rel=1e-9)
        assert f.disconnected_s == pytest.approx(x["disconnected_s"], abs=1e-6)
        assert f.start_latency_ms == (None if x["latency_ms"] is None
                                      else pytest.approx(x["latency_ms"], abs=1e-3))
    assert [(d.day, d.active_users, d.active_creators, d.messages) for d in report.days] == [
        (d, len(expected.active_users.get(d, ())), len(expected.active_creators.get(d, ())),
         expected.messages_by_day.get(d, 0)) for d in expected.days()]
    assert report.refusals == dict(sorted(expected.refusals.items()))
    met = {m.key: m.met for m in report.metrics}
    assert met["registered_users"] is False and met["chat_message_latency"] is None


def test_a_channel_gets_its_own_figures(month: tuple[Path, Expected, Report]) -> None:
    where, expected, _ = month
    channel_id = next(iter(expected.follows))
    mine = {sid: x for sid, x in expected.streams.items() if x["channel_id"] == channel_id}
    store = _sqlite(where / "events.sqlite")
    try:
        report = analyse_channel(store, channel_id, MONTH_START, MONTH_END)
    finally:
        store.close()
    assert {f.stream_id for f in report.streams} == mine.keys()
    assert report.messages == sum(x["messages"] for x in mine.values())
    assert report.peak_viewers == max(x["peak"] for x in mine.values())
    assert report.viewer_minutes == pytest.approx(sum(x["viewer_minutes"]
                                                      for x in mine.values()), rel=1e-9)
    assert (report.followers_gained, report.followers_lost) == expected.follows[channel_id]


def test_an_exported_log_imported_into_an_empty_store_gives_the_same_report(
        month: tuple[Path, Expected, Report], tmp_path: Path) -> None:
    where, _, report = month
    source, target = _sqlite(where / "events.sqlite"), _sqlite(tmp_path / "copy.sqlite")
    try:
        raw = io.BytesIO()
        export(source, raw, EventFilter())
        import_events(target, raw.getvalue().splitlines())
        again, _ = analyse(target, MONTH_START, MONTH_END)
    finally:
        source.close()
        target.close()
    assert again == report


def _cli(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AETHEX_DATA_DIR": str(where), "AETHEX_LOG_LEVEL": "WARNING"}
    env.pop("AETHEX_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", "analytics", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_answers_json_and_a_self_contained_html_report(
        month: tuple[Path, Expected, Report], tmp_path: Path) -> None:
    where, _, report = month
    period = ("--since", MONTH_START.isoformat(), "--until", MONTH_END.isoformat())
    as_json = _cli(where, *period, "--json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert [(m["key"], m["value"]) for m in answer["metrics"]] == [
        (m.key, m.value) for m in report.metrics]
    page = tmp_path / "report.html"
    drawn = _cli(where, *period, "--html", str(page))
    assert drawn.returncode == 0, drawn.stderr
    text = page.read_text()
    assert text.count("<svg") == 3 and "Peak concurrent viewers" in text
    # Self-contained: nothing fetched from anywhere when the file is opened.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<script" not in text and "@import" not in text


@pytest.mark.parametrize(("args", "says"), [
    (("--since", "2026-11-10", "--until", "2026-11-02"), "before --since"),
    (("--since", "2027-03-01"), "no events in the period"),
    (("--since", "2026-11-01T00:00", "--until", "2026-11-01T01:00"), "no stream was live"),
    (("--since", "yesterday"), "not an ISO 8601 timestamp"),
])
def test_a_period_that_cannot_be_analysed_is_refused_with_exit_code_2(
        month: tuple[Path, Expected, Report], args: tuple[str, ...], says: str) -> None:
    done = _cli(month[0], *args)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_empty_log_is_refused(tmp_path: Path) -> None:
    store = _sqlite(tmp_path / "events.sqlite")
    try:
        with pytest.raises(PeriodError, match="empty"):
            analyse(store)
    finally:
        store.close()


def _doc_queries() -> list[str]:
    text = (ROOT / "docs" / "analytics.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_the_parquet_export_answers_the_docs_duckdb_questions(
        month: tuple[Path, Expected, Report], tmp_path: Path) -> None:
    where, expected, report = month
    store = _sqlite(where / "events.sqlite")
    try:
        rows = export_parquet(store, tmp_path / "export", EventFilter())
    finally:
        store.close()
    assert rows["ChatMessage.Sent"] == sum(x["messages"] for x in expected.streams.values())
    queries = _doc_queries()
    assert len(queries) == 5
    con = duckdb.connect()
    answers = [con.sql(q.replace("'export/", f"'{tmp_path / 'export'}/")).fetchall()
               for q in queries]
    got = {m.key: m.value for m in report.metrics}
    median, p90, streams = answers[0][0]
    assert (median, p90) == (pytest.approx(got["chat_messages_per_stream_median"]),
                             pytest.approx(got["chat_messages_per_stream_p90"]))
    assert streams == len(report.streams)
    assert answers[1][0][1] == max(f.peak_viewers for f in report.streams)
    assert [(str(d), n) for d, _, n in answers[2]] == [
        (d.day, d.messages) for d in report.days if d.messages]
    assert answers[3][0][0] == len(expected.first_starts)
    assert {reason: n for reason, n, _ in answers[4]} == report.refusals
    assert sum(pct for _, _, pct in answers[4]) == pytest.approx(
        got["failed_chat_messages"], abs=0.03)
    kinds = dict(con.sql(f"DESCRIBE SELECT * FROM '{tmp_path}/export/Stream.Ended.parquet'")
                 .fetchall()[i][:2] for i in range(8))
    assert kinds["timestamp"] == "TIMESTAMP WITH TIME ZONE" and kinds["duration_s"] == "BIGINT"


def test_refused_sends_are_counted_then_recorded_as_events(store: EventStore,
                                                            world: World) -> None:
    stream = world.live_stream(world.channel(world.user("caster"), "caster-tv"))
    tally = RefusalTally()
    for reason in ("rate_limited", "rate_limited", "slow_mode"):
        tally.note(stream.id, reason)
    tally.note(uuid4(), "not_found")  # a stream that does not exist
    recorder = ChatRefusalRecorder(store, tally, node="node-a")
    assert recorder.flush() == 4
    assert recorder.flush() == 0  # the tally started over
    events, _ = store.read(0, 1000, types=["ChatRefusals.Counted"])
    assert sorted((e.data["stream_id"] or "", e.data["reason"], e.data["count"],
                   e.channel_id or "") for e in events) == sorted([
        (str(stream.id), "rate_limited", 2, str(stream.channel_id)),
        (str(stream.id), "slow_mode", 1, str(stream.channel_id)),
        ("", "not_found", 1, "")])
    assert {e.data["node"] for e in events} == {"node-a"}


class _RefusingStore:
    """The Store port with a store that is down: every save fails."""

    def find(self, aggregate_id: object, kind: object) -> None:
        return None

    def save(self, *aggregates: object) -> int:
        raise ConnectionError("the event store is down")


def test_counts_a_failed_recording_could_not_store_join_the_next_window() -> None:
    tally = RefusalTally()
    tally.note(None, "error")
    recorder = ChatRefusalRecorder(_RefusingStore(), tally, node="n")  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        recorder.flush()
    tally.note(None, "error")
    counts, _ = tally.take()
    assert counts == {(None, "error"): 2}
