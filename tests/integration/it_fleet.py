"""Shared helpers for the Python integration tests that run the built programs against the real
local stack (the jt_stack fixture): the fixture's environment, the project venv (pymongo,
fastavro), program processes that always end, a scenario's private database/topics/group,
reading a topic with kcat, decoding status events, a consumer group's lag, bounded waits.

Usage, at the very top of a test script (before importing pymongo or fastavro):

    import it_fleet
    it_fleet.require_venv(__file__)      # re-executes under the venv Python when needed

The venv is the one deploy/local/install-deps makes: $JT_PYTHON if set, else
${JOYTIFY_CACHE_DIR:-~/.cache/joytify}/venv/bin/python. Without it, or without pymongo/fastavro
in it, the test fails with a message saying how to get them.

Topics are read with kcat (`-f '%p %o %K %S\\n%k%s'`: a text header giving the partition, the
offset, the key length and the value length, then exactly that many raw key and value bytes),
which carries binary Avro values unchanged whatever bytes they hold. Status events are Avro
single-object encoded: C3 01, the 8-byte CRC-64-AVRO fingerprint of the schema's Parsing
Canonical Form (checked against every schemas/status_event.vN.avsc), then the datum, which
fastavro.schemaless_reader decodes (with logical types left as plain numbers: timestamps stay
milliseconds since the epoch).
"""

import ctypes
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

REEXEC_MARK = "JT_IT_FLEET_REEXEC"


class TestFailure(Exception):
    """A failed expectation: the message says what was expected and what was found."""


# The previous month starts up to 62 days back (on the 30th or 31st after a 31-day month), past
# the default 60-day retention below which `joytify-producer stats` refuses a month: tests of the
# previous month give the producer this retention so that they run the same on any day.
PREVIOUS_MONTH_RETENTION = ("--retention-days", "70")


def fail(msg):
    raise TestFailure(msg)


def log(msg):
    print(msg, flush=True)


# --- environment and venv ------------------------------------------------------------------


def target_python():
    if os.environ.get("JT_PYTHON"):
        return os.environ["JT_PYTHON"], "JT_PYTHON"
    cache = os.environ.get("JOYTIFY_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "joytify")
    return os.path.join(cache, "venv", "bin", "python"), "the joytify venv"


def require_venv(script):
    """Makes sure pymongo and fastavro import, re-executing script under the venv Python first
    when this interpreter lacks them. Exits 1 with a clear message when they cannot be had."""
    name = os.path.basename(script)
    try:
        import fastavro  # noqa: F401
        import pymongo  # noqa: F401
        return
    except ImportError as e:
        missing = e
    python, origin = target_python()
    if os.environ.get(REEXEC_MARK) or os.path.realpath(sys.executable) == os.path.realpath(python):
        sys.exit(f"{name}: FAIL: pymongo and fastavro are needed but {sys.executable} lacks them "
                 f"({missing}). Run deploy/local/install-deps, or: {sys.executable} -m pip "
                 "install pymongo fastavro")
    if not os.path.exists(python):
        sys.exit(f"{name}: FAIL: no Python at {python} ({origin}). Run deploy/local/install-deps, "
                 "or set JT_PYTHON to a Python with pymongo and fastavro "
                 "(python3 -m venv V && V/bin/pip install pymongo fastavro).")
    os.environ[REEXEC_MARK] = "1"
    sys.stdout.flush()
    os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])


def env(name):
    """A variable the jt_stack fixture sets; fails without it."""
    v = os.environ.get(name)
    if not v:
        fail(f"{name} is not set: run this test through ctest (fixture jt_stack)")
    return v


# --- bounded waits -------------------------------------------------------------------------


def wait_until(what, predicate, timeout_s, interval_s=0.25, on_timeout=None):
    """Polls predicate() until it returns a true value (returned) or timeout_s passes (fails,
    naming `what` and the last value; on_timeout() may add context, e.g. program logs)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            extra = on_timeout() if on_timeout else ""
            fail(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})"
                 + (f"\n{extra}" if extra else ""))
        time.sleep(interval_s)


# --- processes -----------------------------------------------------------------------------

_libc = None


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (PR_SET_PDEATHSIG)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except Exception:  # noqa: BLE001 - best effort; the finally blocks still end it
        pass


class Proc:
    """A program started in the background with its stdout+stderr in a log file."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        fd, self.log_path = tempfile.mkstemp(prefix=re.sub(r"\W+", "-", name) + "-", suffix=".log",
                                             dir=logdir)
        with os.fdopen(fd, "wb") as out:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                          env=None if env is None else dict(os.environ, **env))
        self.pid = self.popen.pid

    @property
    def line(self):
        return " ".join(self.argv)

    def running(self):
        return self.popen.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, size=4000):
        text = self.log_text()
        return text if len(text) <= size else "..." + text[-size:]

    def stop(self, timeout_s=20):
        """SIGTERM, then expects exit code 0 within timeout_s (SIGKILL and fail otherwise)."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
        try:
            rc = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            fail(f"{self.name} (pid {self.pid}): expected to exit within {timeout_s} s of "
                 f"SIGTERM, actual still running (killed)\n{self.log_tail()}")
        if rc != 0:
            fail(f"{self.name} (pid {self.pid}): expected exit code 0 after SIGTERM, actual "
                 f"{rc}\n{self.log_tail()}")

    def kill(self):
        """Teardown: SIGKILL if still running, no assertion."""
        if self.running():
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class Fleet:
    """The stack's addresses and the built programs; owns every process it starts and ends them
    all in close() (call it in a finally block)."""

    def __init__(self):
        self.brokers = env("JT_KAFKA_BROKERS")
        self.mongo_uri = env("JT_MONGO_URI")
        self.build_dir = env("JT_BUILD_DIR")
        self.source_dir = env("JT_SOURCE_DIR")
        self.producer_path = os.path.join(self.build_dir, "producer", "joytify-producer")
        self.worker_path = os.path.join(self.build_dir, "worker", "joytify-worker")
        for path in (self.producer_path, self.worker_path):
            if not os.access(path, os.X_OK):
                fail(f"{path}: expected a built program, actual missing (build first)")
        self.logdir = tempfile.mkdtemp(prefix="jt-it-fleet-")
        self.procs = []
        self._keep_logs = False

    def start(self, name, argv, env=None):
        """Starts argv in the background; env adds variables (secrets stay off the command
        line, which is logged)."""
        p = Proc(name, argv, self.logdir, env)
        self.procs.append(p)
        log(f"started {name}: pid {p.pid}: {p.line}")
        return p

    def run(self, name, argv, timeout_s=60, env=None):
        """Runs a program to its end; returns (exit code, output) and prints both."""
        p = self.start(name, argv, env)
        try:
            rc = p.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            fail(f"{p.line}: expected to exit within {timeout_s} s, actual still running "
                 f"(killed)\n{p.log_tail()}")
        out = p.log_text()
        log(f"$ {p.line}\n{out}[exit {rc}]")
        return rc, out

    def logs(self, procs=None, size=3000):
        """The tails of the given (default: all running or ended) programs' logs, for a failure."""
        parts = []
        for p in procs if procs is not None else self.procs:
            state = "running" if p.running() else f"exited {p.popen.returncode}"
            parts.append(f"----- {p.name} (pid {p.pid}, {state}) log tail -----\n"
                         f"{p.log_tail(size)}")
        return "\n".join(parts)

    def keep_logs(self):
        """After a failure: keep the log directory for the post-mortem."""
        self._keep_logs = True

    def close(self):
        for p in self.procs:
            p.kill()
        if self._keep_logs:
            log(f"program logs kept in {self.logdir}")
            return
        for p in self.procs:
            try:
                os.unlink(p.log_path)
            except OSError:
                pass
        try:
            os.rmdir(self.logdir)
        except OSError:
            pass


RUN_STAMP = f"{int(time.time()) % 1000000:06d}"


def group_offsets(fleet, topic, group, require_rows=True):
    """{partition: (committed offset or None, log end)} of group on topic, read with
    `joytify-producer replay --dry-run --to-offset end` (which changes nothing); no rows is a
    failure unless require_rows is False."""
    argv = [fleet.producer_path, "replay", "--dry-run", "--topic", topic, "--group", group,
            "--to-offset", "end", "--brokers", fleet.brokers]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        fail(f"{' '.join(argv)}: expected exit 0, actual {r.returncode}\n{out}")
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^\s*(\d+)\s+(none|\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", line)
        if m:
            rows[int(m.group(1))] = (None if m.group(2) == "none" else int(m.group(2)),
                                     int(m.group(5)))
    if require_rows and not rows:
        fail(f"{' '.join(argv)}: no partition rows in its output\n{out}")
    return rows


class Scenario:
    """One scenario's private database, topics and consumer group, named
    jt_it_<prefix>_<pid>_<n>, and the argument lists that point programs at them."""

    KINDS = ("stats", "cleanup", "status", "dlq")

    def __init__(self, fleet, prefix, n, partitions=6):
        self.fleet = fleet
        # The pid alone repeats across runs on a fresh machine, and a failed run keeps its
        # database and topics for the post-mortem: the start time keeps the names apart.
        base = f"jt_it_{prefix}_{os.getpid()}_{RUN_STAMP}_{n}"
        self.db = base
        self.group = base + ".workers"
        self.topic = {k: f"{base}.{k}" for k in self.KINDS}
        self.partitions = partitions
        self.workers = []

    def target_args(self):
        """--db, the four topics, --task-partitions: what every program of the scenario gets."""
        args = ["--db", self.db, "--task-partitions", str(self.partitions)]
        for k in self.KINDS:
            args += [f"--{k}-topic", self.topic[k]]
        return args

    def create_topics(self):
        """Creates the scenario's four topics with `joytify-producer topics` (a topic that exists
        is left as it is): the notifier and watch only read, and create none."""
        argv = [self.fleet.producer_path, "topics", "--task-partitions", str(self.partitions)]
        for k in self.KINDS:
            argv += [f"--{k}-topic", self.topic[k]]
        rc, out = self.fleet.run("joytify-producer topics", argv)
        if rc != 0:
            fail(f"joytify-producer topics: expected exit 0, actual {rc}\n{out}")

    def producer(self, *args, timeout_s=60):
        """Runs joytify-producer COMMAND ARGS... against the scenario (its database and topics;
        `replay`, which takes neither, gets only ARGS); returns (rc, output)."""
        target = [] if args[0] == "replay" else self.target_args()
        argv = [self.fleet.producer_path, *args, *target]
        return self.fleet.run("joytify-producer " + args[0], argv, timeout_s)

    def replay_stopped_group(self, *args, timeout_s=60):
        """`joytify-producer replay ARGS` once the stopped workers have left the group: replay
        refuses a group with members, and a member whose LeaveGroup was lost (librdkafka 2.0.2
        can close without one) stays until its session times out (45 s). Returns (rc, output)
        of the last try."""
        deadline = time.monotonic() + timeout_s
        while True:
            rc, out = self.producer("replay", *args)
            if rc == 0 or "has active members" not in out or time.monotonic() > deadline:
                return rc, out
            log("replay refused: the group still has a member; trying again in 2 s")
            time.sleep(2)

    def start_worker(self, *extra, env=None):
        """Starts a joytify-worker in the scenario's group (both task kinds by default); env adds
        variables (secrets stay off the command line)."""
        name = f"worker {len(self.workers) + 1}"
        argv = [self.fleet.worker_path, "--group", self.group, *self.target_args(),
                "--max-attempts", "4", "--retry-backoff-ms", "200", "--retry-backoff-max-ms",
                "2000", "-X", "auto.commit.interval.ms=500", *extra]
        w = self.fleet.start(name, argv, env)
        self.workers.append(w)
        return w

    def running_workers(self):
        return [w for w in self.workers if w.running()]

    def expect_workers_alive(self):
        """Fails, with their logs, when a worker not stopped on purpose has exited."""
        dead = [w for w in self.workers if not w.running() and not getattr(w, "stopped", False)]
        if dead:
            fail("worker(s) exited unexpectedly: "
                 + ", ".join(f"{w.name} (pid {w.pid}) exit {w.popen.returncode}" for w in dead)
                 + "\n" + self.fleet.logs(dead))

    def stop_workers(self, timeout_s=30):
        for w in self.running_workers():
            w.popen.send_signal(signal.SIGTERM)
        for w in self.workers:
            if not getattr(w, "stopped", False):
                w.stopped = True
                w.stop(timeout_s)

    def status_events(self, decoder):
        """Every status event of the scenario, decoded, in (partition, offset) order."""
        return [dict(ev, _partition=m.partition, _offset=m.offset)
                for m in read_topic(self.fleet.brokers, self.topic["status"])
                for ev in [decoder.decode(m.value, f"{self.topic['status']}/{m.partition}/"
                                          f"{m.offset}")]]

    def group_lag(self, topic_kind):
        """{partition: (committed or None, log end)} of the scenario's group on a topic."""
        return group_offsets(self.fleet, self.topic[topic_kind], self.group)

    def caught_up(self, topic_kind):
        """True when the group has committed the log end of every non-empty partition."""
        return all((c if c is not None else 0) >= end
                   for c, end in self.group_lag(topic_kind).values())


# --- a test script's main ----------------------------------------------------------------------


def run_main(name, body, **client_kwargs):
    """The main of a test script: body(fleet, client, dbs) against the fixture's stack, with a
    pymongo client (client_kwargs passed on); exit status 0 with "NAME: PASS", 1 with the failure.
    Every program is ended; the databases body lists in dbs are dropped after a pass and kept
    (and named) after a failure, with the program logs, for the post-mortem."""
    import pymongo
    fleet = client = None
    dbs = []
    ok = False
    try:
        fleet = Fleet()
        client = pymongo.MongoClient(fleet.mongo_uri, serverSelectionTimeoutMS=10000,
                                     **client_kwargs)
        body(fleet, client, dbs)
        ok = True
        log(f"{name}: PASS")
        return 0
    except TestFailure as e:
        log(f"{name}: FAIL: {e}")
        return 1
    except Exception:  # noqa: BLE001
        log(f"{name}: FAIL: unexpected error\n" + traceback.format_exc())
        if fleet:
            log(fleet.logs())
        return 1
    finally:
        if fleet:
            if not ok:
                fleet.keep_logs()
            fleet.close()
        if client:
            if ok:
                for db in dbs:
                    client.drop_database(db)
            elif dbs:
                log(f"databases kept for the post-mortem: {dbs}")
            client.close()


# --- the stack's servers ----------------------------------------------------------------------


def _group_alive(pgid):
    """Whether a live (not zombie) process is in process group pgid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class StackServer:
    """One server ("mongo" or "kafka") of the jt_stack fixture's stack, stopped and restarted
    the way deploy/local/stack does it: run/NAME.pid in JT_STACK_STATE_DIR holds the id of the
    server's process group; stop() sends it SIGTERM (SIGKILL after timeout_s), start() runs
    `stack up` with the fixture's ports, which restarts only a stopped server. A test that stops
    a server calls start() in a finally block."""

    def __init__(self, name, source_dir, state_dir, kafka_port, controller_port, mongo_port):
        self.name = name
        self.stack = os.path.join(source_dir, "deploy", "local", "stack")
        self.state_dir = state_dir
        self.args = ["--state-dir", state_dir, "--kafka-port", str(kafka_port),
                     "--kafka-controller-port", str(controller_port), "--mongo-port",
                     str(mongo_port)]

    @classmethod
    def from_env(cls, name):
        """The server of the fixture's stack (JT_STACK_STATE_DIR, ports from JT_KAFKA_BROKERS,
        JT_KAFKA_CONTROLLER_PORT and JT_MONGO_URI)."""
        kport = int(env("JT_KAFKA_BROKERS").split(",")[0].rsplit(":", 1)[1])
        m = re.match(r"^mongodb://[^/]*:(\d+)(/|$)", env("JT_MONGO_URI"))
        if not m:
            fail(f"JT_MONGO_URI {os.environ['JT_MONGO_URI']!r}: expected mongodb://HOST:PORT...")
        cport = int(os.environ.get("JT_KAFKA_CONTROLLER_PORT") or kport + 1)
        return cls(name, env("JT_SOURCE_DIR"), env("JT_STACK_STATE_DIR"), kport, cport,
                   int(m.group(1)))

    def _read(self, what):
        try:
            with open(os.path.join(self.state_dir, "run", f"{self.name}.{what}")) as f:
                return f.read().strip()
        except OSError:
            return None

    def pgid(self):
        pid = self._read("pid")
        return int(pid) if pid and pid.isdigit() else None

    def running(self):
        g = self.pgid()
        return bool(g) and _group_alive(g)

    def stop(self, timeout_s=20):
        """SIGTERM to the server's process group, SIGKILL after timeout_s; returns what it did."""
        g = self.pgid()
        if not g or not _group_alive(g):
            fail(f"{self.name} server of the stack in {self.state_dir}: expected running, actual "
                 f"not (run/{self.name}.pid: {g})")
        self.server_kind = self._read("server")
        t0 = time.monotonic()
        os.killpg(g, signal.SIGTERM)
        try:
            os.killpg(g, signal.SIGCONT)  # a stopped process acts on TERM only once continued
        except ProcessLookupError:
            pass
        while _group_alive(g) and time.monotonic() - t0 < timeout_s:
            time.sleep(0.1)
        if _group_alive(g):
            os.killpg(g, signal.SIGKILL)
            while _group_alive(g) and time.monotonic() - t0 < timeout_s + 10:
                time.sleep(0.1)
            return f"SIGTERM to process group {g}, SIGKILL after {timeout_s} s"
        return f"SIGTERM to process group {g}, gone in {time.monotonic() - t0:.1f} s"

    def start(self, timeout_s=180):
        """`stack up` on the fixture's ports (the same server kind as before stop()); returns the
        seconds it took. Fails when the server does not come back."""
        argv = [self.stack, "up", *self.args]
        kind = getattr(self, "server_kind", None) or self._read("server")
        if kind and self.name == "mongo":
            argv += ["--mongo-server", kind]
        t0 = time.monotonic()
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout_s, env=dict(os.environ, JOYTIFY_SKIP_INSTALL="1"))
        except subprocess.TimeoutExpired:
            fail(f"{' '.join(argv)}: did not finish within {timeout_s} s")
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0 or not self.running():
            fail(f"{' '.join(argv)}: expected the {self.name} server restarted, actual exit "
                 f"{r.returncode}\n{out}")
        return time.monotonic() - t0


# --- Kafka -----------------------------------------------------------------------------------


class Message:
    __slots__ = ("partition", "offset", "key", "value")

    def __init__(self, partition, offset, key, value):
        self.partition, self.offset, self.key, self.value = partition, offset, key, value

    def __repr__(self):
        return f"Message(p={self.partition}, o={self.offset}, key={self.key!r}, " \
               f"{len(self.value) if self.value is not None else 'null'} bytes)"


KCAT_FORMAT = r"%p %o %K %S\n%k%s"


def read_topic(brokers, topic, timeout_s=30):
    """Every message of topic from the beginning to the current end, sorted by (partition,
    offset), keys and values as raw bytes (None for null)."""
    argv = ["kcat", "-C", "-q", "-e", "-b", brokers, "-t", topic, "-o", "beginning",
            "-f", KCAT_FORMAT]
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout_s)
    except FileNotFoundError:
        fail("kcat is not installed (Debian package kcat): it reads the topics")
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(argv)}: did not reach the end of {topic} within {timeout_s} s")
    if r.returncode != 0:
        fail(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')}")
    data, pos, out = r.stdout, 0, []
    while pos < len(data):
        nl = data.index(b"\n", pos)
        part, off, klen, vlen = (int(x) for x in data[pos:nl].split(b" "))
        pos = nl + 1
        key = data[pos:pos + klen] if klen >= 0 else None
        pos += max(klen, 0)
        value = data[pos:pos + vlen] if vlen >= 0 else None
        pos += max(vlen, 0)
        out.append(Message(part, off, key, value))
    out.sort(key=lambda m: (m.partition, m.offset))
    return out


def _strip_logical(schema):
    if isinstance(schema, dict):
        return {k: _strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_strip_logical(s) for s in schema]
    return schema


class AvroDecoder:
    """Decodes single-object encoded messages of one schema file (schemas/NAME.avsc), or of any
    of several versions of one type (a list of files, oldest first): each message is read with
    its writer's schema into the newest one, as the programs' registry does."""

    def __init__(self, schema_path):
        import fastavro
        from fastavro.schema import fingerprint, to_parsing_canonical_form

        paths = schema_path if isinstance(schema_path, list) else [schema_path]
        self.writers = {}
        for path in paths:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
            self.writers[fp] = fastavro.parse_schema(_strip_logical(schema))
        self.path = paths[-1]
        self.fingerprint = fp
        self.schema = self.writers[fp]
        self._reader = fastavro.schemaless_reader

    def decode(self, value, where="message"):
        if value is None or len(value) < 10 or value[:2] != b"\xc3\x01":
            fail(f"{where}: expected an Avro single-object message (C3 01 ...), actual "
                 f"{value[:16] if value else value!r}")
        writer = self.writers.get(value[2:10])
        if writer is None:
            fail(f"{where}: expected a fingerprint of "
                 f"{', '.join(fp.hex() for fp in self.writers)} "
                 f"({os.path.basename(self.path)} or older), actual {value[2:10].hex()}")
        buf = io.BytesIO(value[10:])
        datum = self._reader(buf, writer, self.schema)
        if buf.tell() != len(value) - 10:
            fail(f"{where}: {len(value) - 10 - buf.tell()} bytes left after the datum")
        return datum


def schema_versions(source_dir, type_name):
    """schemas/TYPE.vN.avsc of every published version, oldest first."""
    d = os.path.join(source_dir, "schemas")
    found = []
    for name in os.listdir(d):
        m = re.fullmatch(re.escape(type_name) + r"\.v(\d+)\.avsc", name)
        if m:
            found.append((int(m.group(1)), os.path.join(d, name)))
    return [p for _, p in sorted(found)]


def status_decoder(source_dir):
    """Status events of any published version, read as the newest (fields a writer lacked get
    their defaults)."""
    return AvroDecoder(schema_versions(source_dir, "status_event"))


class AvroEncoder:
    """Encodes records of one schema file as single-object messages (the inverse of
    AvroDecoder), for tests that publish events themselves."""

    def __init__(self, schema_path):
        import fastavro
        from fastavro.schema import fingerprint, to_parsing_canonical_form

        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        self.header = b"\xc3\x01" + bytes.fromhex(
            fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
        self.schema = fastavro.parse_schema(_strip_logical(schema))
        self._writer = fastavro.schemaless_writer

    def encode(self, record):
        buf = io.BytesIO()
        self._writer(buf, self.schema, record)
        return self.header + buf.getvalue()


def status_encoder(source_dir):
    """Status events as the programs write them: the newest published version."""
    return AvroEncoder(schema_versions(source_dir, "status_event")[-1])


def produce(brokers, topic, key, values, timeout_s=30):
    """Publishes each of values (bytes) as one message with key, in order, with kcat (each file
    it is given becomes one message, whatever bytes it holds)."""
    with tempfile.TemporaryDirectory(prefix="jt-produce-") as d:
        paths = []
        for i, v in enumerate(values):
            paths.append(os.path.join(d, f"{i:06d}"))
            with open(paths[-1], "wb") as f:
                f.write(v)
        argv = ["kcat", "-P", "-q", "-b", brokers, "-t", topic, "-k", key, *paths]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout_s)
        if r.returncode != 0:
            fail(f"kcat -P to {topic}: exit {r.returncode}: "
                 f"{r.stderr.decode('utf-8', 'replace')}")
