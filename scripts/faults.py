"""Fault suite: the production topology on PostgreSQL, RabbitMQ and Redis instances of its
own, a bounded chat load, and one fault per round.

It starts a private PostgreSQL cluster, RabbitMQ node and Redis on free ports (the
machine's services are never touched), then the topology as docker-compose.yml runs it:
one API node (`aethex serve`, reconnect-grace worker only), `aethex relay` and
`aethex project`. A few signed-in users post chat over HTTP on an open-loop schedule and a
WebSocket viewer counts live deliveries by message id. Each round injects one fault while
the load runs:

  relay-kill          SIGKILL of `aethex relay`, restarted at once (as an orchestrator would)
  projectors-kill     SIGKILL of `aethex project`, restarted at once
  api-kill            SIGKILL of the API node, restarted at once
  rabbitmq-restart    `rabbitmqctl stop`, then the node started again
  rabbitmq-kill       SIGKILL of the broker, then started again
  postgres-immediate  `pg_ctl restart -m immediate`
  postgres-fast       `pg_ctl restart -m fast`
  redis-restart       Redis stopped and started again (empty: nothing is saved)

After each round it checks that every accepted message (a 201 answer) is stored once in the
event store (ChatMessage.Sent) and once in the chat history read model, that every
projection reaches the store's head, and that live chat flows again (a message posted after
the fault reaches the viewer). Recovery is timed from the fault's end (the process
relaunched, or the service accepting connections again) until every read model has reached
the head as of that moment and a message posted after it was delivered live.

Every process it started and its temporary directory are removed on exit, even on failure.

Run: scripts/faults [--rounds N] [--seconds S] [--rate R] [--users U] [--faults a,b,...]
                    [--recovery-timeout S] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import WebSocketException  # noqa: E402

from domain.catalogue import TOPIC_BY_TYPE  # noqa: E402
from projections import tracking  # noqa: E402
from projections.registry import all_projections  # noqa: E402

NAMESPACE = "faults"
JWT_SECRET = "faults-suite-key-" + "x" * 32
SENT_TOPIC = TOPIC_BY_TYPE["ChatMessage.Sent"]
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 90.0  # a cold RabbitMQ boot on a busy 2-core machine takes 5-20 s


# ---------------------------------------------------------------------------------------
# binaries and ports


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (/usr/lib/postgresql/N/bin), or the
    ones on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def rabbitmq_bin() -> Path | None:
    """Where rabbitmq-server and rabbitmqctl are. Debian's /usr/sbin wrappers switch to
    the rabbitmq user and its shared cookie, so the real scripts are preferred."""
    if (RABBITMQ_BIN / "rabbitmq-server").exists():
        return RABBITMQ_BIN
    on_path = shutil.which("rabbitmq-server")
    return Path(on_path).parent if on_path else None


def missing_binaries() -> list[str]:
    """The server binaries this suite needs and cannot find."""
    missing = []
    pg = postgres_bin()
    if pg is None or not (pg / "initdb").exists():
        missing.append("PostgreSQL (initdb, pg_ctl)")
    if rabbitmq_bin() is None:
        missing.append("RabbitMQ (rabbitmq-server, rabbitmqctl)")
    if shutil.which("redis-server") is None:
        missing.append("Redis (redis-server)")
    return missing


_taken: set[int] = set()  # ports handed out in this process, not yet listened on


def free_port() -> int:
    """A loopback port nothing listens on now, not handed out before by this process."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _taken and port < 55000:  # RabbitMQ's CLI uses port + 10000
            _taken.add(port)
            return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:g} s")
        time.sleep(0.1)


def _wait_exit(pid: int, timeout: float) -> bool:
    """Waits for a process that is not our child to disappear; True when it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


# ---------------------------------------------------------------------------------------
# private instances


class Postgres:
    """A PostgreSQL cluster of its own in `root`, trust authentication, on a free port.
    As root the server runs as the postgres user (it refuses to run as root)."""

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        assert self.bin is not None, "PostgreSQL binaries not found"
        self.root = root / "pg"
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True,
             timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, timeout=timeout, cwd=self.root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def init(self) -> None:
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        # The unix socket goes into the cluster's own directory, so it never meets the
        # machine's server in /var/run/postgresql.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")
        self.started = True

    def restart(self, mode: str) -> None:
        """`pg_ctl restart -m immediate|fast`; returns once it accepts connections."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-m", mode, "-o", options, "restart")

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False, timeout=30)
            self.started = False


class RabbitMQ:
    """A RabbitMQ node of its own (faults-<pid>@localhost): its own ports, database, logs,
    Erlang cookie (HOME), and no plugins (so no management listener)."""

    def __init__(self, root: Path) -> None:
        self.bin = rabbitmq_bin()
        assert self.bin is not None, "RabbitMQ binaries not found"
        self.root = root / "rabbitmq"
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"faults-{os.getpid()}@localhost"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid_file = self.root / "beam.pid"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        home = self.root / "home"
        return {
            **os.environ, "HOME": str(home),
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.dist_port + 10000),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.dist_port + 10010),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            # A config file that does not exist: the machine's /etc/rabbitmq is not ours.
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }

    def init(self) -> None:
        for sub in ("home", "mnesia", "log"):
            (self.root / sub).mkdir(parents=True)
        (self.root / "enabled_plugins").write_text("[].\n")

    def ctl(self, *args: str, timeout: float = 60,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.bin / "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env(), check=check, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self) -> None:
        with open(self.root / "server.out", "ab") as out:
            self.proc = subprocess.Popen([str(self.bin / "rabbitmq-server")], env=self.env(),
                                         cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited {self.proc.returncode}; see "
                                   f"{self.root / 'server.out'}")
            done = subprocess.run(
                [str(self.bin / "rabbitmqctl"), "-n", self.node, "-q", "await_startup",
                 "--timeout", "5"], env=self.env(), timeout=30,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0 and _listening(self.port):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ did not start within {START_TIMEOUT_S:g} s")
            time.sleep(0.3)

    def beam_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """`rabbitmqctl stop`: a clean shutdown, as an operator would."""
        if self.proc is None:
            return
        pid = self.beam_pid()
        self.ctl("stop", check=False, timeout=60)
        if pid is not None:
            _wait_exit(pid, 30)
        self._reap()

    def kill(self) -> None:
        """SIGKILL of the broker's Erlang VM."""
        pid = self.beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_exit(pid, 30)
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)  # its helpers (erl_child_setup, inet_gethost) with it
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.proc = None
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()


class Redis:
    """A Redis of its own: nothing saved, nothing appended."""

    def __init__(self, root: Path) -> None:
        self.root = root / "redis"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def init(self) -> None:
        self.root.mkdir(parents=True)

    def start(self) -> None:
        with open(self.root / "server.log", "ab") as out:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.root)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        _wait(lambda: _listening(self.port), 30, "Redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


# ---------------------------------------------------------------------------------------
# the topology


ROLES = {
    "api": ["serve"],
    "relay": ["relay"],
    "projectors": ["project"],
}


class Stack:
    """The private services and the compose topology on them. Use as a context manager:
    leaving it (or the interpreter exiting) stops everything and removes the temp dir."""

    def __init__(self, log_level: str = "INFO", commit: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aethex-faults-"))
        atexit.register(self.close)
        # The code the topology runs: this checkout as it is, or a commit exported from
        # its history (so a figure can be tied to a commit while others edit the tree).
        self.code = ROOT
        self.commit = commit
        if commit is not None:
            self.code = self.root / "code"
            self.code.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit],
                                     check=True, stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", str(self.code)], input=archive.stdout,
                           check=True)
        self.root.chmod(0o755)  # the postgres user must reach its cluster inside
        self.postgres = Postgres(self.root)
        self.rabbitmq = RabbitMQ(self.root)
        self.redis = Redis(self.root)
        self.api_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(ROLES, 0)  # relaunched after an exit
        self.log_level = log_level
        self._closed = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        # Nothing of the caller's AETHEX_* settings (a test run's, a developer's) leaks in.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AETHEX_")}
        return {
            **inherited,
            "AETHEX_DATABASE_URL": self.postgres.url,
            "AETHEX_RABBITMQ_URL": self.rabbitmq.url,
            "AETHEX_REDIS_URL": self.redis.url,
            "AETHEX_NAMESPACE": NAMESPACE,
            "AETHEX_JWT_SECRET": JWT_SECRET, "AETHEX_WEBHOOK_SECRET_KEY": JWT_SECRET,
            "AETHEX_DATA_DIR": str(self.root / "var"),
            "AETHEX_LOG_FORMAT": "json",
            "AETHEX_LOG_LEVEL": self.log_level,
            "AETHEX_CHAT_RATE_LIMIT": "none",  # a few users carry the whole load
            "AETHEX_HOST": "127.0.0.1",
            "AETHEX_PORT": str(self.api_port),
        }

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """The three services, the schema, then the API node, relay and projectors."""
        for service in (self.postgres, self.rabbitmq, self.redis):
            service.init()
        self.postgres.start()
        self.redis.start()
        self.rabbitmq.start()
        subprocess.run([sys.executable, "-m", "entrypoints.cli", "migrate"], cwd=self.code,
                       env=self.env(), check=True, stdout=subprocess.DEVNULL, timeout=120)
        for role in ROLES:
            self.launch(role)
        self.wait_api()

    def log_path(self, role: str) -> Path:
        return self.root / f"{role}.log"

    def launch(self, role: str) -> None:
        env = self.env()
        if role == "api":
            env["AETHEX_WORKERS"] = "reconnect_grace"  # as docker-compose.yml's API nodes
        with open(self.log_path(role), "ab") as out:
            self.procs[role] = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", *ROLES[role]], cwd=self.code, env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def kill(self, role: str) -> None:
        """SIGKILL, then relaunched at once, as an orchestrator restarts a dead container."""
        proc = self.procs[role]
        proc.kill()
        proc.wait(10)
        self.launch(role)

    def restart_gracefully(self, role: str) -> None:
        """SIGTERM and relaunch: what an operator does by hand to a stuck worker."""
        proc = self.procs[role]
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.launch(role)

    def dump_stacks(self, role: str) -> str | None:
        """Where a process that may be stuck stands: its asyncio tasks' await chains (the
        `process.tasks` line SIGUSR1 makes it log) and its threads' stacks (py-spy, a dev
        tool, when installed); also kept beside the logs as `<role>.stacks.txt`."""
        proc = self.procs.get(role)
        if proc is None or proc.poll() is not None:
            return None
        log_path = self.log_path(role)
        offset = log_path.stat().st_size if log_path.exists() else 0
        os.kill(proc.pid, signal.SIGUSR1)
        tasks = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not tasks:
            time.sleep(0.2)
            with open(log_path, "rb") as f:
                f.seek(offset)
                tasks = "".join(line for line in f.read().decode(errors="replace")
                                .splitlines(keepends=True) if "process.tasks" in line)
        text = "tasks: " + (tasks or "(no process.tasks line within 5 s)\n")
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if Path(spy).exists():
            try:
                out = subprocess.run([spy, "dump", "--pid", str(proc.pid)],
                                     capture_output=True, text=True, timeout=30)
                text += "threads:\n" + out.stdout + out.stderr
            except (OSError, subprocess.TimeoutExpired) as e:
                text += f"threads: py-spy dump failed: {e}\n"
        with open(self.root / f"{role}.stacks.txt", "a") as f:
            f.write(f"--- {time.strftime('%H:%M:%S')}\n{text}\n")
        return text

    def relaunch_exited(self) -> list[str]:
        """Like compose's `restart: unless-stopped`: any process that exited is started
        again. Returns the roles relaunched."""
        relaunched = []
        for role, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.restarts[role] += 1
                relaunched.append(f"{role} exited {proc.returncode}")
                self.launch(role)
        return relaunched

    def wait_api(self, timeout: float = 60) -> None:
        import httpx

        def ready() -> bool:
            try:
                return httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        _wait(ready, timeout, f"the API node did not answer ready on {self.base}")

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.postgres.url, connect_timeout=3, autocommit=True)

    def copy_logs(self, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for path in [*self.root.glob("*.log"), *self.root.glob("*.stacks.txt"), self.postgres.log,
                     self.rabbitmq.root / "server.out", self.redis.root / "server.log"]:
            if path.exists():
                shutil.copy(path, target / f"{path.parent.name}-{path.name}"
                            if path.parent != self.root else target / path.name)

    def close(self) -> None:
        """Stops every process this stack started and removes its directory. Safe to call
        twice, and from atexit."""
        if self._closed:
            return
        self._closed = True
        for proc in self.procs.values():
            _kill_group(proc, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
        for stop in (self.rabbitmq.stop, self.redis.stop, self.postgres.stop):
            try:
                stop()
            except Exception as e:  # the others must still be stopped
                print(f"faults: cleanup: {stop.__qualname__}: {e}", file=sys.stderr)
        if self.rabbitmq.beam_pid() is not None:
            self.rabbitmq.kill()
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# faults


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[Stack], None]  # returns when the fault has ended


def _rabbitmq_restart(stack: Stack) -> None:
    stack.rabbitmq.stop()
    stack.rabbitmq.start()


def _rabbitmq_kill(stack: Stack) -> None:
    stack.rabbitmq.kill()
    stack.rabbitmq.start()


def _redis_restart(stack: Stack) -> None:
    stack.redis.stop()
    stack.redis.start()


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("relay-kill", "SIGKILL of aethex relay, relaunched",
          lambda s: s.kill("relay")),
    Fault("projectors-kill", "SIGKILL of aethex project, relaunched",
          lambda s: s.kill("projectors")),
    Fault("api-kill", "SIGKILL of the API node, relaunched",
          lambda s: s.kill("api")),
    Fault("rabbitmq-restart", "rabbitmqctl stop, then started",
          _rabbitmq_restart),
    Fault("rabbitmq-kill", "SIGKILL of the broker, then started",
          _rabbitmq_kill),
    Fault("postgres-immediate", "pg_ctl restart -m immediate",
          lambda s: s.postgres.restart("immediate")),
    Fault("postgres-fast", "pg_ctl restart -m fast",
          lambda s: s.postgres.restart("fast")),
    Fault("redis-restart", "Redis stopped and started",
          _redis_restart),
)}


# ---------------------------------------------------------------------------------------
# reading the stores


def events_table(conn: psycopg.Connection[Any]) -> str:
    """The event store's table in the namespace (the library names it after the app)."""
    row = conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
        "AND column_name = 'notification_id' ORDER BY table_name LIMIT 1",
        (NAMESPACE,)).fetchone()
    if row is None:
        raise RuntimeError(f"no event store table in schema {NAMESPACE}")
    return str(row[0])


@dataclass
class Positions:
    head: int
    projections: dict[str, int]

    @property
    def behind(self) -> dict[str, int]:
        """Projections short of the head, and by how many positions."""
        return {n: self.head - p for n, p in self.projections.items() if p < self.head}


def read_positions(stack: Stack, table: str) -> Positions:
    """The store's head and every projection's tracking position (0 when it has none)."""
    with stack.connect() as conn:
        head = conn.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.{}")
                            .format(sql.Identifier(NAMESPACE), sql.Identifier(table))
                            ).fetchone()
        tracking_table = sql.SQL("{}.{}").format(
            sql.Identifier(NAMESPACE), sql.SQL(tracking.TABLE)).as_string(conn)
        rows = conn.execute(tracking.all_positions_sql(tracking_table)).fetchall()
    tracked = {str(n): int(p) for n, p in rows}
    return Positions(int(head[0]) if head else 0,
                     {p.name: tracked.get(p.name, 0) for p in all_projections()})


def stored_messages(stack: Stack, table: str, tag: str) -> list[tuple[str, str]]:
    """(message id, content) of every ChatMessage.Sent event whose content has `tag`."""
    with stack.connect() as conn:
        rows = conn.execute(sql.SQL(
            "SELECT originator_id::text, content FROM (SELECT originator_id, "
            "convert_from(state, 'UTF8')::jsonb ->> 'content' AS content FROM {}.{} "
            "WHERE topic = %s) sent WHERE content LIKE %s").format(
                sql.Identifier(NAMESPACE), sql.Identifier(table)),
            (SENT_TOPIC, f"{tag}-%")).fetchall()
    return [(str(i), str(c)) for i, c in rows]


def history_messages(stack: Stack, tag: str) -> list[tuple[str, str]]:
    """(message id, content) of the chat history read model's rows with `tag`."""
    with stack.connect() as conn:
        rows = conn.execute(sql.SQL("SELECT id, content FROM {}.chat_messages "
                                    "WHERE content LIKE %s").format(sql.Identifier(NAMESPACE)),
                            (f"{tag}-%",)).fetchall()
    return [(str(i), str(c)) for i, c in rows]


# ---------------------------------------------------------------------------------------
# load and viewer


@dataclass
class Accepted:
    id: str
    content: str
    sent_at: float  # monotonic, when the request went out


@dataclass
class Load:
    """Open-loop chat over HTTP: message i is due at t0 + i/rate, from user i % users.
    Bounded: at most `max_in_flight` requests are out at once; a message due while they
    all are is shed (counted, never sent), so a stalled server cannot pile up work here."""

    base: str
    stream_id: str
    tokens: list[str]
    rate: float
    max_in_flight: int = 64
    timeout_s: float = 5.0
    accepted: list[Accepted] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)  # reason -> requests
    shed: int = 0
    sent: int = 0
    running: bool = False

    def reset(self) -> None:
        self.accepted, self.failed, self.shed, self.sent = [], {}, 0, 0

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    async def post(self, http: aiohttp.ClientSession, user: int, content: str) -> None:
        sent_at = time.monotonic()
        self.sent += 1
        try:
            async with http.post(f"{self.base}/api/streams/{self.stream_id}/messages",
                                 json={"content": content},
                                 headers={"Authorization": f"Bearer {self.tokens[user]}"}
                                 ) as resp:
                body = await resp.read()
                if resp.status == 201:
                    self.accepted.append(Accepted(json.loads(body)["id"], content, sent_at))
                    return
                reason = str(resp.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            reason = type(e).__name__
        self.failed[reason] = self.failed.get(reason, 0) + 1

    async def run(self, http: aiohttp.ClientSession, tag: str, seconds: float) -> None:
        self.running = True
        in_flight: set[asyncio.Task[None]] = set()
        t0 = time.monotonic()
        total = int(self.rate * seconds)
        try:
            for i in range(total):
                delay = t0 + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(in_flight) >= self.max_in_flight:
                    self.shed += 1
                    continue
                user = i % len(self.tokens)
                task = asyncio.create_task(self.post(http, user, f"{tag}-{user}-{i}"))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.timeout_s + 5)
        finally:
            self.running = False


class Viewer:
    """One WebSocket viewer of the stream, counting chat messages by id. Reconnects (as a
    client would) whenever its connection drops, e.g. while the API node is down."""

    def __init__(self, base: str, stream_id: str) -> None:
        self.url = f"{base.replace('http', 'ws', 1)}/ws/streams/{stream_id}"
        self.delivered: dict[str, float] = {}  # message id -> first delivery (monotonic)
        self.doubled = 0
        self.reconnects = 0
        self.closes: list[str] = []  # why each connection ended
        self.errors: list[str] = []  # what it could not read (a server's protocol error)
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _count(self, frame: str | bytes) -> None:
        decoded = json.loads(frame)
        for event in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(event, dict) and event.get("event") == "chat:message":
                message_id = event["data"]["id"]
                if message_id in self.delivered:
                    self.doubled += 1
                else:
                    self.delivered[message_id] = time.monotonic()

    async def _run(self) -> None:
        while True:
            try:
                async with connect(self.url, open_timeout=5, max_size=None,
                                   ping_interval=5, ping_timeout=10) as ws:
                    self.connected.set()
                    async for frame in ws:
                        self._count(frame)
                    self.closes.append(f"closed {ws.close_code} {ws.close_reason!r}")
            except (OSError, TimeoutError, WebSocketException) as e:
                self.closes.append(type(e).__name__)
            except Exception as e:  # e.g. a frame it cannot read: said, never swallowed
                self.errors.append(f"{type(e).__name__}: {e}"[:200])
            finally:
                self.connected.clear()
            self.reconnects += 1
            await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------------------
# a round


@dataclass
class RoundResult:
    fault: str
    recovery_s: float | None  # None: not recovered before the deadline
    accepted: int
    stored: int
    history: int
    lost: int  # accepted, and missing from the store or the chat history
    lost_from_store: int  # of those, missing from the event store itself
    doubled: int  # one request stored (or kept in the history) more than once
    failed: int  # non-201 answers and requests without an answer
    shed: int
    live: int  # accepted messages the viewer got
    live_doubled: int
    viewer_errors: int  # frames the viewer could not read: a protocol error of ours
    caught_up: bool  # every projection at the head once the load ended
    behind: dict[str, int]
    notes: list[str] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)  # a failed round's worker stacks

    @property
    def ok(self) -> bool:
        return (self.recovery_s is not None and self.caught_up and not self.lost
                and not self.doubled and not self.live_doubled and not self.viewer_errors)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


async def _positions(stack: Stack, table: str) -> Positions | None:
    try:
        return await asyncio.to_thread(read_positions, stack, table)
    except psycopg.Error:
        return None  # the database is down or restarting: ask again


def _log_tail(stack: Stack, offsets: dict[str, int]) -> dict[str, int]:
    """Counts of notable worker log events since `offsets` (moved on): why a round
    failed is usually in these."""
    counts: dict[str, int] = {}
    notable = ("projector.failed", "projector.started", "relay.step_failed",
               "Task exception was never retrieved")
    for role in ROLES:
        path = stack.log_path(role)
        if not path.exists():
            continue
        with open(path, "rb") as f:
            f.seek(offsets.get(role, 0))
            text = f.read().decode(errors="replace")
            offsets[role] = f.tell()
        for word in notable:
            if (n := text.count(word)):
                counts[f"{role}:{word}"] = n
    return counts


async def run_round(stack: Stack, table: str, load: Load, viewer: Viewer, http:
                    aiohttp.ClientSession, fault: Fault, tag: str, seconds: float,
                    recovery_timeout: float, log_offsets: dict[str, int],
                    verbose: bool = True) -> RoundResult:
    """Runs the load for `seconds`, injects `fault` a third of the way in, times the
    recovery, lets the read models drain, and compares what was accepted with the store,
    the chat history and the viewer."""
    load.reset()
    notes: list[str] = []
    started = time.monotonic()
    reconnects_before = viewer.reconnects
    closes_before, errors_before = len(viewer.closes), len(viewer.errors)
    load_task = asyncio.create_task(load.run(http, tag, seconds))
    await asyncio.sleep(seconds / 3)
    if verbose:
        print(f"faults: {fault.name}: {fault.description}", flush=True)
    fault_start = time.monotonic()
    await asyncio.to_thread(fault.inject, stack)
    fault_end = time.monotonic()
    notes.append(f"fault {fault_end - fault_start:.1f}s")

    # Recovery: every projection at the head as it stood when the fault ended, and a
    # message posted after that delivered live. Probes keep live chat tested once the
    # load is over.
    target: int | None = None
    caught_at: float | None = None
    live_at: float | None = None
    deadline = fault_end + recovery_timeout
    next_probe = 0.0
    probes = 0
    while time.monotonic() < deadline and (caught_at is None or live_at is None):
        for relaunched in await asyncio.to_thread(stack.relaunch_exited):
            notes.append(relaunched)
        if target is None:
            snapshot = await _positions(stack, table)
            target = snapshot.head if snapshot else None
        if target is not None and caught_at is None:
            snapshot = await _positions(stack, table)
            if snapshot and min(snapshot.projections.values()) >= target:
                caught_at = time.monotonic()
        if live_at is None:
            times = [viewer.delivered[a.id] for a in load.accepted
                     if a.sent_at >= fault_end and a.id in viewer.delivered]
            live_at = min(times) if times else None
            if live_at is None and not load.running and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + 1.0
                probes += 1
                await load.post(http, 0, f"{tag}-probe-{probes}")
        await asyncio.sleep(0.2)
    recovery = (max(caught_at, live_at) - fault_end
                if caught_at is not None and live_at is not None else None)
    if caught_at is None:
        notes.append("read models not at the fault-end head")
    if live_at is None:
        notes.append("no live delivery after the fault")

    await load_task
    # Drain: once the load is over every projection must reach the head and the chat
    # history must hold what the store holds. A frozen projector is left frozen (that is
    # the finding); the deadline bounds the wait.
    drain_deadline = time.monotonic() + (20.0 if recovery is not None else 5.0)
    snapshot: Positions | None = None
    while time.monotonic() < drain_deadline:
        snapshot = await _positions(stack, table)
        if snapshot and not snapshot.behind:
            break
        await asyncio.sleep(0.25)
    caught_up = bool(snapshot and not snapshot.behind)
    behind = snapshot.behind if snapshot else {"?": -1}

    stored = await asyncio.to_thread(stored_messages, stack, table, tag)
    history = await asyncio.to_thread(history_messages, stack, tag)
    accepted_ids = {a.id for a in load.accepted}
    stored_ids = {i for i, _ in stored}
    history_ids = {i for i, _ in history}
    lost = len(accepted_ids - (stored_ids & history_ids))
    lost_from_store = len(accepted_ids - stored_ids)
    doubled = (len(stored) - len({c for _, c in stored})) + \
              (len(history) - len({c for _, c in history}))
    unanswered = len(stored_ids - accepted_ids)
    if unanswered:
        notes.append(f"{unanswered} stored without a 201 (answer lost)")
    if stored_ids - history_ids:
        notes.append(f"{len(stored_ids - history_ids)} stored, not in history")
    if load.failed:
        notes.append("failed " + ", ".join(f"{k}x{v}" for k, v in sorted(load.failed.items())))
    for key, n in _log_tail(stack, log_offsets).items():
        notes.append(f"{key} x{n}")
    if viewer.reconnects != reconnects_before:
        notes.append(f"viewer reconnected x{viewer.reconnects - reconnects_before} ("
                     + ", ".join(sorted(set(viewer.closes[closes_before:]))) + ")")
    if len(viewer.errors) != errors_before:
        notes.append("viewer could not read: " + "; ".join(viewer.errors[errors_before:][:3]))
    if live_at is None:  # where the viewer stood: connected, and when it last got a message
        last = max(viewer.delivered.values(), default=None)
        notes.append(f"viewer {'connected' if viewer.connected.is_set() else 'disconnected'}"
                     + (f", last delivery {time.monotonic() - last:.1f}s ago"
                        if last is not None else ", never delivered"))
    notes.append(f"round {time.monotonic() - started:.0f}s")
    return RoundResult(
        fault=fault.name, recovery_s=recovery, accepted=len(accepted_ids), stored=len(stored),
        history=len(history), lost=lost, lost_from_store=lost_from_store, doubled=doubled,
        failed=load.failed_total, shed=load.shed,
        live=len(accepted_ids & viewer.delivered.keys()),
        live_doubled=viewer.doubled, viewer_errors=len(viewer.errors) - errors_before,
        caught_up=caught_up, behind=behind, notes=notes)


async def reset_workers(stack: Stack, table: str, timeout: float = 30) -> bool:
    """Restarts the relay and the projectors by hand (what an operator would have to do)
    so the next round starts from a working topology; True once they caught up."""
    await asyncio.to_thread(stack.restart_gracefully, "relay")
    await asyncio.to_thread(stack.restart_gracefully, "projectors")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = await _positions(stack, table)
        if snapshot and not snapshot.behind:
            return True
        await asyncio.sleep(0.25)
    return False


# ---------------------------------------------------------------------------------------
# the suite


async def sign_up(base: str, users: int, suffix: str) -> tuple[str, list[str]]:
    """Registers `users` users (names ending in `suffix`); the first makes a channel and
    goes live. Returns the stream id and every user's bearer token."""
    tokens: list[str] = []
    async with aiohttp.ClientSession() as http:
        for n in range(users):
            name = f"fault{n}u{suffix}"
            async with http.post(f"{base}/api/auth/register", json={
                    "email": f"{name}@example.com", "username": name,
                    "password": "correct horse battery"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"register answered {r.status}: {await r.text()}")
                tokens.append((await r.json())["token"])
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        async with http.post(f"{base}/api/channels", json={"slug": f"faults{suffix}",
                                                             "name": "Faults"},
                             headers=auth) as r:
            channel = await r.json()
            if r.status != 201:
                raise RuntimeError(f"channel answered {r.status}: {channel}")
        async with http.post(f"{base}/api/streams/{channel['id']}/start", json={},
                             headers=auth) as r:
            stream = await r.json()
            if r.status != 201:
                raise RuntimeError(f"go live answered {r.status}: {stream}")
    return stream["id"], tokens


async def run_suite(stack: Stack, faults: Sequence[Fault], *, seconds: float, rate: float,
                    users: int = 4, recovery_timeout: float = 45.0,
                    reset_after_failure: bool = True, stop_after_failure: bool = False,
                    on_result: Callable[[RoundResult], None] | None = None
                    ) -> list[RoundResult]:
    """Signs users up, goes live, opens the viewer and runs one round per fault, in order.
    After a round that did not recover, the relay and projectors are restarted by hand so
    the next fault is measured on a working topology (and the table says so); with
    `stop_after_failure` no round follows it (a test repeating an intermittent fault)."""
    # A suite may run several times on one stack (the tests do): names and the tag that
    # marks each round's messages are unique to this run.
    run_id = uuid.uuid4().hex[:6]
    stream_id, tokens = await sign_up(stack.base, users, run_id)
    with stack.connect() as conn:
        table = events_table(conn)
    viewer = Viewer(stack.base, stream_id)
    viewer.start()
    results: list[RoundResult] = []
    log_offsets: dict[str, int] = {}
    try:
        await asyncio.wait_for(viewer.connected.wait(), 30)
        # Ready: every read model at the head before the first fault.
        deadline = time.monotonic() + 60
        while (snapshot := await _positions(stack, table)) is None or snapshot.behind:
            if time.monotonic() > deadline:
                raise RuntimeError(f"read models never reached the head: {snapshot}")
            await asyncio.sleep(0.25)
        _log_tail(stack, log_offsets)
        load = Load(stack.base, stream_id, tokens, rate)
        connector = aiohttp.TCPConnector(limit=load.max_in_flight)
        async with aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=load.timeout_s),
                cookie_jar=aiohttp.DummyCookieJar()) as http:
            for n, fault in enumerate(faults, 1):
                result = await run_round(stack, table, load, viewer, http, fault, f"{run_id}r{n}",
                                         seconds, recovery_timeout, log_offsets)
                if not result.ok:  # where the workers stand, before anyone restarts them
                    for role in ("projectors", "relay"):
                        dump = await asyncio.to_thread(stack.dump_stacks, role)
                        if dump:
                            result.stacks[role] = dump
                if not result.ok and reset_after_failure:
                    healed = await reset_workers(stack, table)
                    result.notes.append("relay+projectors restarted by hand afterwards"
                                        + ("" if healed else ", still behind"))
                    _log_tail(stack, log_offsets)  # the restart's lines are not the next fault's
                results.append(result)
                if on_result is not None:
                    on_result(result)
                if not result.ok and stop_after_failure:
                    break
    finally:
        await viewer.stop()
    return results


def _cell(value: float | None) -> str:
    return "FAIL" if value is None else f"{value:.1f}"


def format_table(results: Sequence[RoundResult]) -> str:
    """The results as a Markdown table (also readable in a terminal)."""
    header = ("| fault | recovery s | lost | doubled | failed requests | accepted | stored "
              "| history | live | caught up | ok |")
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for r in results:
        lines.append(
            f"| {r.fault} | {_cell(r.recovery_s)} | {_lost(r)} | {r.doubled} | {r.failed} "
            f"| {r.accepted} | {r.stored} | {r.history} | {r.live} "
            f"| {'yes' if r.caught_up else 'no: ' + _behind(r.behind)} "
            f"| {'ok' if r.ok else 'FAIL'} |")
    return "\n".join(lines)


def _lost(r: RoundResult) -> str:
    if not r.lost:
        return "0"
    where = "store" if r.lost_from_store == r.lost else (
        "history" if not r.lost_from_store else f"{r.lost_from_store} from the store")
    return f"{r.lost} ({where})"


def _behind(behind: dict[str, int]) -> str:
    return f"{len(behind)} behind ({', '.join(sorted(behind))})"


def describe_code(commit: str | None) -> str:
    """Which code the topology runs: a commit, or HEAD plus whether the tree differs."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return done.stdout.strip()
    if commit is not None:
        return f"commit {git('rev-parse', '--short', commit)} (git archive)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"working tree at {git('rev-parse', '--short', 'HEAD')}" + (
        f", with uncommitted changes in {len(dirty.splitlines())} files" if dirty else "")


@contextlib.contextmanager
def _signals_exit() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit, so the finally blocks and atexit clean up."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """`scripts/faults`: exit 0 when every round passed, 1 otherwise, 2 on bad use."""
    parser = argparse.ArgumentParser(prog="scripts/faults", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1,
                        help="passes over the fault list (default 1)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of load per round, the fault a third of the way in")
    parser.add_argument("--rate", type=float, default=250.0, help="messages per second")
    parser.add_argument("--users", type=int, default=4, help="signed-in senders")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma list, in order (default all: {','.join(FAULTS)})")
    parser.add_argument("--recovery-timeout", type=float, default=45.0,
                        help="seconds after a fault's end before a round counts as failed")
    parser.add_argument("--logs", type=Path, default=None,
                        help="copy the processes' and services' logs here before cleanup")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--commit", default=None,
                        help="run the topology from this commit (git archive) instead of "
                        "the working tree")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.faults.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    missing = missing_binaries()
    if missing:
        print(f"faults: missing {'; '.join(missing)}", file=sys.stderr)
        return 2
    faults = [FAULTS[n] for n in names] * args.rounds

    def show(result: RoundResult) -> None:
        print(f"faults: {result.fault}: recovery {_cell(result.recovery_s)} s, "
              f"lost {result.lost}, doubled {result.doubled}, failed {result.failed}, "
              f"{'ok' if result.ok else 'FAIL'} ({'; '.join(result.notes)})", flush=True)

    import uvloop

    started = time.monotonic()
    with _signals_exit(), Stack(commit=args.commit) as stack:
        results: list[RoundResult] = []
        try:
            print(f"faults: code {describe_code(args.commit)}", flush=True)
            print(f"faults: starting PostgreSQL :{stack.postgres.port}, RabbitMQ "
                  f":{stack.rabbitmq.port} ({stack.rabbitmq.node}), Redis :{stack.redis.port}"
                  f", API node :{stack.api_port} in {stack.root}", flush=True)
            stack.start()
            print(f"faults: topology up in {time.monotonic() - started:.0f} s; "
                  f"{len(faults)} rounds of {args.seconds:g} s at {args.rate:g} msg/s",
                  flush=True)
            results = uvloop.run(run_suite(
                stack, faults, seconds=args.seconds, rate=args.rate, users=args.users,
                recovery_timeout=args.recovery_timeout, on_result=show))
        finally:
            if args.logs is not None:
                stack.copy_logs(args.logs)
    print()
    print(format_table(results))
    print(f"\nfaults: {sum(r.ok for r in results)}/{len(results)} rounds passed in "
          f"{time.monotonic() - started:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=2))
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
