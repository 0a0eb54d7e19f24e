"""PostgreSQL for tests.

Public API
----------
* ``postgres_for_tests()`` -- context manager yielding a ``PostgresServer``:
    1. ``TEST_POSTGRES_URL`` (admin URL of some server) if set;
    2. else 127.0.0.1:5432 if it lets ``postgres`` in without a password (trust);
    3. else a throwaway cluster (``throwaway_postgres()``).
  Only databases created through the server object (``tt_<prefix>_<random>``) are ever dropped,
  and all of them are dropped on exit.
* ``throwaway_postgres()`` -- context manager that ALWAYS initdb's and starts its own cluster
  (temp dir, free port, trust auth, fsync=off); ``stop()``/``start()``/``kill()`` simulate outages.
* ``PostgresServer`` / ``PostgresCluster`` -- see the methods below.

Notes (Debian 12, PostgreSQL 15, running as root): ``initdb`` and ``postgres`` refuse to run as
root, so when we are root every cluster command runs as the ``postgres`` OS user via
``runuser -u postgres --``, in a temp dir chowned to it (and that dir's ancestors must be
traversable by it -- hence /tmp, not a 0700 $TMPDIR).  initdb -N is ~0.5 s, start ~0.1-0.3 s.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from sqlalchemy.engine import URL, make_url

__all__ = [
    "PostgresCluster",
    "PostgresError",
    "PostgresServer",
    "find_pg_bindir",
    "postgres_for_tests",
    "throwaway_postgres",
]

LOOPBACK = "127.0.0.1"
DB_PREFIX = "tt_"
LOCAL_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
_TMP_PREFIX = "tt-pg-"
_PORT_RANGE = (20000, 32700)  # below the ephemeral range
_RESERVED_PORTS = frozenset({5432, 5433, 5672, 4369, 15672, 25672}) | frozenset(range(35672, 35683))


class PostgresError(RuntimeError):
    pass


# --------------------------------------------------------------------------- helpers


def _normalise_url(url: str | URL) -> URL:
    u = make_url(url)
    if u.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg2")
    else:
        raise ValueError(f"not a PostgreSQL URL: {u.render_as_string(hide_password=True)}")
    return u


def _connect_kwargs(url: URL, dbname: str | None = None) -> dict:
    kw = url.translate_connect_args(username="user", database="dbname")
    kw.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    if dbname is not None:
        kw["dbname"] = dbname
    kw.setdefault("dbname", "postgres")
    kw.setdefault("connect_timeout", 5)
    return kw


def _sanitise(prefix: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", prefix.lower()).strip("_") or "db"
    return s[:40]


def _port_is_free(port: int) -> bool:
    # SO_REUSEADDR like the servers themselves: only an active listener makes the port
    # unusable (TIME_WAIT leftovers of a just-stopped server don't).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _pick_free_port(exclude: Sequence[int] = ()) -> int:
    import random

    rng = random.SystemRandom()
    for _ in range(2000):
        port = rng.randrange(*_PORT_RANGE)
        if port not in _RESERVED_PORTS and port not in exclude and _port_is_free(port):
            return port
    raise PostgresError("could not find a free TCP port on 127.0.0.1")


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _interrupt_on_sigterm() -> None:
    """SIGTERM -> KeyboardInterrupt so pytest unwinds fixtures (only if nobody handles SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(Exception):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:

            def _handler(signum, frame):
                raise KeyboardInterrupt(f"received signal {signum}")

            signal.signal(signal.SIGTERM, _handler)


def find_pg_bindir() -> Path:
    """Directory holding initdb/pg_ctl: ``TT_PG_BINDIR``, Debian's newest, pg_config, PATH."""
    if os.environ.get("TT_PG_BINDIR"):
        return Path(os.environ["TT_PG_BINDIR"])
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (d for d in debian.iterdir() if (d / "bin" / "initdb").exists() and d.name.split(".")[0].isdigit()),
            key=lambda d: [int(x) for x in d.name.split(".") if x.isdigit()],
        )
        if versions:
            return versions[-1] / "bin"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; "
        "apt-get install -y --no-install-recommends postgresql"
    )


# --------------------------------------------------------------------------- server


_LIVE: set["PostgresServer"] = set()
_LIVE_LOCK = threading.Lock()


def _cleanup_live() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for s in servers:
        with contextlib.suppress(Exception):
            s.cleanup()


atexit.register(_cleanup_live)


class PostgresServer:
    """A PostgreSQL server on which we only create and drop our own ``tt_*`` databases."""

    owned = False

    def __init__(self, admin_url: str | URL):
        self._url = _normalise_url(admin_url)
        self._created: set[str] = set()
        self._lock = threading.Lock()

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL (``postgresql+psycopg2://...``) of the maintenance database."""
        return self._url.render_as_string(hide_password=False)

    def url_for(self, dbname: str) -> str:
        return self._url.set(database=dbname).render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._url.render_as_string(hide_password=True)}>"

    # ---- connections

    def connect(self, dbname: str | None = None, **kwargs):
        """A psycopg2 connection (autocommit) to ``dbname`` (default: the admin database)."""
        conn = psycopg2.connect(**{**_connect_kwargs(self._url, dbname), **kwargs})
        conn.autocommit = True
        return conn

    def is_ready(self, timeout: float = 2) -> bool:
        try:
            conn = self.connect(connect_timeout=max(1, int(timeout)))
        except psycopg2.Error:
            return False
        conn.close()
        return True

    def _execute(self, query, params=None, *, fetch: bool = False):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if fetch else None
        finally:
            conn.close()

    # ---- databases

    def create_database(self, prefix: str = "test") -> str:
        """Create ``tt_<prefix>_<random>`` (from template0, UTF8); return its SQLAlchemy URL."""
        name = f"{DB_PREFIX}{_sanitise(prefix)}_{secrets.token_hex(4)}"
        ident = sql.Identifier(name)
        try:
            self._execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(ident))
        except psycopg2.errors.InvalidParameterValue:
            # server locale incompatible with UTF8 (e.g. a LATIN1 locale): use the C locale
            self._execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                ).format(ident)
            )
        with self._lock:
            self._created.add(name)
        return self.url_for(name)

    def drop_database(self, url: str | URL) -> None:
        """Terminate connections to the database at ``url`` and drop it (``WITH (FORCE)``)."""
        name = make_url(url).database
        if not name or not name.startswith(DB_PREFIX):
            raise ValueError(f"refusing to drop {name!r}: only {DB_PREFIX}* databases created by tests")
        if name == self._url.database:
            raise ValueError("refusing to drop the admin database")
        ident = sql.Identifier(name)
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                if conn.server_version >= 130000:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
                else:  # pragma: no cover - old servers
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,),
                    )
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
        finally:
            conn.close()
        with self._lock:
            self._created.discard(name)

    def database_exists(self, url_or_name: str) -> bool:
        name = make_url(url_or_name).database if "://" in url_or_name else url_or_name
        rows = self._execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,), fetch=True)
        return bool(rows)

    @property
    def created_databases(self) -> set[str]:
        with self._lock:
            return set(self._created)

    def drop_created_databases(self) -> None:
        for name in self.created_databases:
            with contextlib.suppress(psycopg2.Error):
                self.drop_database(self.url_for(name))

    # ---- lifecycle (only for clusters we own)

    def _not_owned(self, *args, **kwargs):
        raise NotImplementedError(f"{self!r} is not owned by the test run; it can't be stopped/started")

    start = stop = kill = restart = _not_owned

    def cleanup(self) -> None:
        """Drop every database this object created."""
        try:
            if self.is_ready():
                self.drop_created_databases()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)


# --------------------------------------------------------------------------- throwaway cluster


def _run_as_user() -> str | None:
    """OS user to run initdb/pg_ctl as: ``postgres`` when we're root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresError("running as root but there is no 'postgres' OS user to run initdb as") from exc
    return "postgres"


def _tmp_root(run_as: str | None) -> Path:
    """A temp root the cluster's OS user can traverse."""
    root = Path(tempfile.gettempdir())
    if run_as is None:
        return root
    for p in [root, *root.parents]:
        if not os.stat(p).st_mode & 0o001:
            return Path("/tmp")
    return root


class PostgresCluster(PostgresServer):
    """A throwaway cluster (initdb'd in a temp dir) owned by the test run."""

    owned = True

    def __init__(self, base_dir: str | os.PathLike, *, port: int, bindir: Path | None = None, run_as: str | None = None):
        self.base_dir = Path(base_dir).absolute()
        self.port = int(port)
        self.bindir = Path(bindir) if bindir else find_pg_bindir()
        self.run_as = run_as
        self.last_start_seconds: float | None = None
        self.init_seconds: float | None = None
        super().__init__(f"postgresql+psycopg2://postgres@{LOOPBACK}:{self.port}/postgres")

    data_dir = property(lambda self: self.base_dir / "data")
    socket_dir = property(lambda self: self.base_dir)
    log_path = property(lambda self: self.base_dir / "postgres.log")

    def __repr__(self) -> str:
        return f"<PostgresCluster port={self.port} data={self.data_dir}>"

    # ---- command plumbing

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return env

    def _run(self, *cmd: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        full = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.run_as:
            full = ["runuser", "-u", self.run_as, "--", *full]
        res = subprocess.run(
            full, cwd=self.base_dir, env=self._env(), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )
        if check and res.returncode != 0:
            raise PostgresError(
                f"{' '.join(full)} exited with {res.returncode}\n{res.stdout}{res.stderr}\n{self.log_tail()}"
            )
        return res

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"--- {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    # ---- lifecycle

    def initdb(self) -> None:
        t0 = time.monotonic()
        base_args = ["initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "-N", "--no-instructions"]
        res = self._run(*base_args, "--locale=C.UTF-8", check=False)
        if res.returncode != 0:  # no C.UTF-8 locale on this system
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._run(*base_args, "--locale=C")
        self._write_conf()
        self.init_seconds = time.monotonic() - t0

    def _write_conf(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        marker = "# --- tests/support/postgres.py ---"
        text = text.split(marker)[0]
        text += (
            f"{marker}\n"
            f"port = {self.port}\n"
            f"listen_addresses = '{LOOPBACK}'\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "max_connections = 200\n"
            "log_min_messages = warning\n"
        )
        conf.write_text(text)

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.postmaster_pid() is not None

    def start(self, timeout: float = 60) -> None:
        """Start the cluster and wait until it accepts connections."""
        if self.is_running():
            return
        t0 = time.monotonic()
        if not _port_is_free(self.port):
            raise PostgresError(f"port {self.port} already in use; could not bind")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", str(int(timeout)),
                  "start", timeout=timeout + 10)
        deadline = t0 + timeout
        while not self.is_ready(timeout=2):
            if time.monotonic() > deadline:
                raise PostgresError(f"cluster on port {self.port} not accepting connections\n{self.log_tail()}")
            time.sleep(0.05)
        self.last_start_seconds = time.monotonic() - t0

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """``pg_ctl stop -m fast`` (default: disconnects clients, clean shutdown)."""
        if not self.is_running():
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(int(timeout)), "stop",
                  timeout=timeout + 10)

    def kill(self) -> None:
        """Crash-like stop (``-m immediate``: no checkpoint, crash recovery on next start)."""
        self.stop(mode="immediate")

    def restart(self, timeout: float = 60) -> None:
        self.stop()
        self.start(timeout=timeout)

    def cleanup(self) -> None:
        """Stop (immediately -- the data goes anyway) and delete the cluster's directory."""
        try:
            with contextlib.suppress(Exception):
                self.stop(mode="immediate")
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # ---- construction

    @classmethod
    def create(cls, *, port: int | None = None) -> "PostgresCluster":
        """mkdtemp + initdb (not started)."""
        run_as = _run_as_user()
        bindir = find_pg_bindir()
        base = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=_tmp_root(run_as)))
        try:
            if run_as:
                pw = pwd.getpwnam(run_as)
                os.chown(base, pw.pw_uid, pw.pw_gid)
            cluster = cls(base, port=port or _pick_free_port(), bindir=bindir, run_as=run_as)
            with _LIVE_LOCK:
                _LIVE.add(cluster)
            cluster.initdb()
            return cluster
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise


def reap_stale_clusters(tmp_roots: Sequence[Path] | None = None) -> int:
    """Stop/remove ``tt-pg-<pid>-*`` clusters whose owning process is gone."""
    removed = 0
    roots = tmp_roots or {Path(tempfile.gettempdir()), Path("/tmp")}
    for root in roots:
        with contextlib.suppress(OSError):
            for d in root.iterdir():
                m = re.match(re.escape(_TMP_PREFIX) + r"(\d+)-", d.name)
                if not m or not d.is_dir() or _pid_alive(int(m.group(1))):
                    continue
                try:
                    if (d / "data" / "postmaster.pid").exists():
                        c = PostgresCluster(d, port=0, run_as=_run_as_user())
                        with contextlib.suppress(Exception):
                            c.stop(mode="immediate", timeout=20)
                    shutil.rmtree(d)
                    removed += 1
                except Exception:
                    pass
    return removed


# --------------------------------------------------------------------------- context managers


@contextlib.contextmanager
def throwaway_postgres(*, timeout: float = 60) -> Iterator[PostgresCluster]:
    """Always a fresh cluster of our own (temp dir, free port); removed on exit (also atexit)."""
    _interrupt_on_sigterm()
    reap_stale_clusters()
    cluster = PostgresCluster.create()
    try:
        for attempt in range(3):
            try:
                cluster.start(timeout=timeout)
                break
            except PostgresError as exc:
                text = str(exc)
                if attempt == 2 or not ("could not bind" in text or "already in use" in text):
                    raise
                cluster.stop(mode="immediate")
                cluster.port = _pick_free_port()
                cluster._url = cluster._url.set(port=cluster.port)
                cluster._write_conf()
        yield cluster
    finally:
        cluster.cleanup()


def _local_server_usable() -> bool:
    try:
        conn = psycopg2.connect(host=LOOPBACK, port=5432, user="postgres", dbname="postgres", connect_timeout=2)
    except psycopg2.Error:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
            row = cur.fetchone()
            return bool(row and row[0])
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    """``TEST_POSTGRES_URL`` > local 127.0.0.1:5432 (trust) > throwaway cluster."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url and _local_server_usable():
        url = LOCAL_ADMIN_URL
    if url:
        server = PostgresServer(url)
        with _LIVE_LOCK:
            _LIVE.add(server)
        try:
            yield server
        finally:
            server.cleanup()
        return
    with throwaway_postgres() as cluster:
        yield cluster
