"""RabbitMQ nodes owned by the test run (and the local dev node used by ``make run``).

Public API
----------
* ``throwaway_rabbitmq()``  -- context manager: fresh node on free ports, temp dir, always cleaned up.
* ``rabbitmq_for_tests()``  -- honours ``TEST_AMQP_URI`` (external broker), else ``throwaway_rabbitmq()``.
* ``RabbitNode``            -- start/stop/kill/restart/ctl/queue_depths/cleanup on one isolated node.
* CLI (used by ``scripts/ensure-rabbitmq.sh`` / ``scripts/stop-rabbitmq.sh``)::

      python -m tests.support.rabbitmq start  --base var/rabbitmq --port 5672
      python -m tests.support.rabbitmq stop   --base var/rabbitmq
      python -m tests.support.rabbitmq status --base var/rabbitmq
      python -m tests.support.rabbitmq env    --base var/rabbitmq   # shell exports, for debugging
      python -m tests.support.rabbitmq ctl    --base var/rabbitmq -- list_queues
      python -m tests.support.rabbitmq throwaway                    # start one, print timings, wait for ^C

``RabbitNode.environment()`` is the single source of truth for the variables that isolate a
node; the shell scripts go through the CLI above instead of duplicating them.

Findings that shaped this module (Debian 12, RabbitMQ 3.10.8, Erlang 25, running as root)
------------------------------------------------------------------------------------------
* ``/usr/sbin/rabbitmq-server`` is a Debian wrapper: as root it ``su``\\ s to the ``rabbitmq``
  user and ``cd``\\ s to /var/lib/rabbitmq.  That user cannot write into a root-owned ``mkdtemp``
  dir (mode 0700), so boot dies with ``failed_to_create_feature_flags_file_directory``, the
  ``erl_crash.dump`` lands in /var/lib/rabbitmq and, with ``-detached``, nothing is visible.
  We therefore run the real script (``/usr/lib/rabbitmq/bin/rabbitmq-server``) as the current
  user, in the foreground (as our child), with ``HOME=<base_dir>`` so the Erlang cookie is ours
  (neither /root/.erlang.cookie nor /var/lib/rabbitmq/.erlang.cookie is read or created).
* ``/etc/rabbitmq/rabbitmq.conf`` sets ``listeners.tcp.local = 127.0.0.1:5672``.  That listener
  is *added* to ``RABBITMQ_NODE_PORT``'s, so a node that reads it fails with ``eaddrinuse`` on
  5672 -- or silently grabs 5672 when the system node is down.  We point ``RABBITMQ_CONFIG_FILE``,
  ``RABBITMQ_CONFIG_FILES`` and ``RABBITMQ_ADVANCED_CONFIG_FILE`` at our own files.
* ``RABBITMQ_NODENAME`` does take precedence over ``NODENAME=`` in rabbitmq-env.conf (verified),
  but we point ``RABBITMQ_CONF_ENV_FILE`` at our own (empty) file anyway so nothing leaks in.
* Start-up time: about half of the ~5.3 s boot was Erlang's code server probing ~90 plugin
  ``ebin`` dirs (ERL_LIBS = every bundled plugin) for each of ~950 modules it loads.  We give the
  node a *slim* ``RABBITMQ_HOME`` (symlinks to the sbin scripts and only the ~20 apps rabbit
  needs, via ``RABBITMQ_SCRIPTS_DIR``), which roughly halves start-up.  ``TT_RABBITMQ_SLIM=0``
  disables this.
* Stopping: SIGTERM to the beam process is a graceful shutdown (~1 s); SIGTERM to the
  ``rabbitmq-server`` shell wrapper takes ~2.4 s, so we signal beam directly.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlsplit

__all__ = [
    "ExternalRabbit",
    "RabbitCtlError",
    "RabbitMQNotInstalled",
    "RabbitNode",
    "RabbitStartError",
    "amqp_accepts",
    "find_rabbitmq_install",
    "rabbitmq_for_tests",
    "throwaway_rabbitmq",
]

LOOPBACK = "127.0.0.1"
SYSTEM_NODENAMES = frozenset({"rabbit@localhost", f"rabbit@{socket.gethostname().split('.')[0]}"})
# Ports we never hand to a throwaway node: epmd, AMQP(S), management, dist of the system
# node, STOMP/MQTT, prometheus, and rabbitmqctl's own distribution range (35672-35682).
RESERVED_PORTS = frozenset({4369, 5671, 5672, 15672, 15692, 25672, 1883, 8883, 61613, 61614}) | frozenset(
    range(35672, 35683)
)
# Below Linux's default ephemeral range (32768-60999) so outgoing connections can't grab them.
_PORT_RANGE = (20000, 32700)
_TMP_PREFIX = "tt-rabbitmq-"
_ROOT_APPS = ("rabbit", "rabbitmq_prelaunch", "rabbit_common")
_ERL_DIST_LOOPBACK = "-kernel inet_dist_use_interface {127,0,0,1}"


class RabbitMQNotInstalled(RuntimeError):
    pass


class RabbitStartError(RuntimeError):
    @property
    def port_conflict(self) -> bool:
        text = str(self)
        return any(s in text for s in ("eaddrinuse", "dist_port_already_used", "already in use"))


class RabbitCtlError(RuntimeError):
    def __init__(self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str):
        self.cmd, self.returncode, self.stdout, self.stderr = list(cmd), returncode, stdout, stderr
        super().__init__(
            f"{shlex.join(self.cmd)} exited with {returncode}\nstderr:\n{stderr.strip()}\nstdout:\n{stdout.strip()}"
        )


# --------------------------------------------------------------------------- installation


class RabbitInstall:
    """A RabbitMQ installation: ``home`` has ``sbin/``, ``plugins/`` and ``escript/``."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.sbin = self.home / "sbin"
        self.plugins = self.home / "plugins"
        self.escript = self.home / "escript"

    def __repr__(self) -> str:
        return f"RabbitInstall({str(self.home)!r})"


def find_rabbitmq_install() -> RabbitInstall:
    """Locate the real (non-wrapper) RabbitMQ scripts.

    ``TT_RABBITMQ_HOME`` wins; then the Debian/RPM layout (/usr/lib/rabbitmq/bin -> ../lib/
    rabbitmq_server-X/sbin); then ``rabbitmq-server`` on PATH if it resolves into a generic-unix
    style layout (not the Debian ``su`` wrapper in /usr/sbin).
    """
    candidates: list[Path] = []
    if os.environ.get("TT_RABBITMQ_HOME"):
        candidates.append(Path(os.environ["TT_RABBITMQ_HOME"]) / "sbin" / "rabbitmq-server")
    candidates.append(Path("/usr/lib/rabbitmq/bin/rabbitmq-server"))
    on_path = shutil.which("rabbitmq-server")
    if on_path:
        candidates.append(Path(on_path))
    for cand in candidates:
        try:
            real = cand.resolve(strict=True)
        except OSError:
            continue
        home = real.parent.parent
        if (real.parent / "rabbitmq-env").is_file() and (home / "plugins").is_dir():
            return RabbitInstall(home)
    raise RabbitMQNotInstalled(
        "RabbitMQ server scripts not found (looked at "
        + ", ".join(map(str, candidates))
        + "). Install it with: apt-get install -y --no-install-recommends rabbitmq-server"
    )


_APP_DEPS_RE = {
    key: re.compile(r"\{\s*" + key + r"\s*,\s*\[([^\]]*)\]")
    for key in ("applications", "included_applications", "optional_applications")
}


def _app_index(plugins_dir: Path) -> dict[str, tuple[Path, set[str]]]:
    index: dict[str, tuple[Path, set[str]]] = {}
    for entry in plugins_dir.iterdir():
        if not entry.is_dir():
            continue
        for app_file in (entry / "ebin").glob("*.app"):
            text = app_file.read_text(errors="replace")
            deps: set[str] = set()
            for rx in _APP_DEPS_RE.values():
                m = rx.search(text)
                if m:
                    deps.update(x.strip() for x in m.group(1).split(",") if x.strip())
            index[app_file.stem] = (entry, deps)
    return index


def _build_slim_home(install: RabbitInstall, dest: Path, plugins: Sequence[str] = ()) -> bool:
    """Create ``dest`` as a RABBITMQ_HOME holding only what the node needs (symlinks).

    Returns False (and leaves nothing behind) when the installation doesn't look as expected,
    in which case the caller uses the real home.
    """
    try:
        index = _app_index(install.plugins)
        need: set[str] = set()
        todo = list(_ROOT_APPS) + list(plugins)
        while todo:
            app = todo.pop()
            if app in need:
                continue
            if app not in index:
                if app in _ROOT_APPS or app in plugins:
                    return False
                continue  # an OTP application, found via the Erlang root
            need.add(app)
            todo.extend(index[app][1])
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "sbin").mkdir(parents=True)
        (tmp / "plugins").mkdir()
        for script in install.sbin.iterdir():
            (tmp / "sbin" / script.name).symlink_to(script)
        (tmp / "escript").symlink_to(install.escript)
        for app in sorted(need):
            src = index[app][0]
            (tmp / "plugins" / src.name).symlink_to(src)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- small helpers


def _port_is_free(port: int, host: str = LOOPBACK) -> bool:
    # SO_REUSEADDR like the servers themselves: only an active listener makes the port
    # unusable (TIME_WAIT leftovers of a just-stopped server don't).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_ports(count: int = 1, exclude: Sequence[int] = ()) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 right now (bind-tested)."""
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randrange(*_PORT_RANGE)
        if port in RESERVED_PORTS or port in chosen or port in exclude:
            continue
        if _port_is_free(port):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("could not find free TCP ports on 127.0.0.1")


def _tcp_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _raw_amqp_probe(host: str, port: int, timeout: float) -> bool:
    """AMQP 0-9-1 protocol header -> expect a Connection.Start method frame back."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"AMQP\x00\x00\x09\x01")
            head = s.recv(11)
            # frame type 1 (method), channel 0, ..., class 10 (connection) method 10 (start)
            return len(head) >= 11 and head[0] == 1 and head[7:11] == b"\x00\x0a\x00\x0a"
    except OSError:
        return False


def amqp_accepts(uri: str, timeout: float = 2.0) -> bool:
    """True if a kombu connection (full AMQP handshake + login) to ``uri`` succeeds."""
    try:
        import kombu
    except ImportError:  # e.g. the CLI run by a python without the venv
        parts = urlsplit(uri)
        return _raw_amqp_probe(parts.hostname or LOOPBACK, parts.port or 5672, timeout)
    conn = kombu.Connection(uri, connect_timeout=timeout)
    try:
        conn.ensure_connection(max_retries=0)  # 0 = no retry, no back-off sleep
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            conn.release()


def _proc_state(pid: int) -> str | None:
    """Linux process state letter, or None if the pid doesn't exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _pid_alive(pid: int) -> bool:
    state = _proc_state(pid)
    if state is None:
        # no /proc (not Linux?) -> fall back to signal 0
        if Path("/proc/self").exists():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in ("Z", "X")


def _read_tail(path: Path, lines: int = 40) -> str:
    try:
        data = path.read_bytes()[-32768:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


try:
    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None:
        _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


# --------------------------------------------------------------------------- cleanup registry

_LIVE: set["RabbitNode"] = set()
_LIVE_LOCK = threading.Lock()


def _cleanup_live_nodes() -> None:
    with _LIVE_LOCK:
        nodes = list(_LIVE)
    for node in nodes:
        with contextlib.suppress(Exception):
            node.cleanup()


atexit.register(_cleanup_live_nodes)


def _interrupt_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so pytest unwinds fixtures (and atexit runs).

    Only if nobody else handles SIGTERM and only from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(Exception):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:

            def _handler(signum, frame):
                raise KeyboardInterrupt(f"received signal {signum}")

            signal.signal(signal.SIGTERM, _handler)


def _stop_epmd_if_unused() -> None:
    """Our node had to start epmd (none was running): stop it again.

    ``epmd -kill`` refuses while any node is still registered, so other nodes are safe.
    """
    epmd = shutil.which("epmd")
    if epmd:
        with contextlib.suppress(Exception):
            subprocess.run([epmd, "-kill"], capture_output=True, timeout=5, env={**os.environ, "ERL_EPMD_ADDRESS": LOOPBACK})


def _owner_pid(dirname: str) -> int | None:
    m = re.match(re.escape(_TMP_PREFIX) + r"(\d+)-", dirname)
    return int(m.group(1)) if m else None


def reap_stale_nodes(tmpdir: str | None = None) -> int:
    """Kill nodes / remove temp dirs left behind by test runs that died (e.g. SIGKILL).

    Only touches ``tt-rabbitmq-<pid>-*`` dirs whose owner pid is gone. Returns dirs removed.
    """
    removed = 0
    root = Path(tmpdir or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for d in root.iterdir():
            owner = _owner_pid(d.name)
            if owner is None or not d.is_dir() or _pid_alive(owner):
                continue
            try:
                if (d / "node.json").exists():
                    RabbitNode.load(d).kill()
                shutil.rmtree(d)
                removed += 1
            except Exception:
                pass
    return removed


# --------------------------------------------------------------------------- the node


class RabbitNode:
    """One isolated RabbitMQ node whose every file lives under ``base_dir``."""

    host = LOOPBACK

    def __init__(
        self,
        base_dir: str | os.PathLike,
        *,
        port: int,
        dist_port: int,
        nodename: str,
        plugins: Sequence[str] = (),
        extra_config: str = "",
        slim: bool | None = None,
        tie_to_parent: bool = True,
        install: RabbitInstall | None = None,
    ):
        if nodename in SYSTEM_NODENAMES or "@" not in nodename:
            raise ValueError(f"refusing nodename {nodename!r} (must be name@host and not the system node)")
        if port in (5672,) and tie_to_parent:
            raise ValueError("throwaway nodes never use port 5672")
        self.base_dir = Path(base_dir).absolute()
        self.port = int(port)
        self.dist_port = int(dist_port)
        self.nodename = nodename
        self.plugins = tuple(plugins)
        self.extra_config = extra_config
        self.slim = (os.environ.get("TT_RABBITMQ_SLIM", "1") != "0") if slim is None else slim
        self.tie_to_parent = tie_to_parent
        self._install = install
        self._proc: subprocess.Popen | None = None
        self.last_start_seconds: float | None = None
        self.last_stop_seconds: float | None = None

    # ---- identity / paths

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    @property
    def install(self) -> RabbitInstall:
        if self._install is None:
            self._install = find_rabbitmq_install()
        return self._install

    @property
    def log_path(self) -> Path:
        return self.base_dir / "log" / "rabbit.log"

    @property
    def stdout_path(self) -> Path:
        return self.base_dir / "log" / "stdout.log"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "rabbit.pid"

    @property
    def _home(self) -> Path:
        slim_home = self.base_dir / "home"
        return slim_home if (self.slim and (slim_home / "sbin").is_dir()) else self.install.home

    def __repr__(self) -> str:
        return f"<RabbitNode {self.nodename} amqp={self.port} dist={self.dist_port} base={self.base_dir}>"

    # ---- single source of truth for the isolating environment

    def isolation_env(self) -> dict[str, str]:
        b = self.base_dir
        home = self._home
        return {
            "HOME": str(b),  # -> our own .erlang.cookie
            "RABBITMQ_SCRIPTS_DIR": str(home / "sbin"),
            "RABBITMQ_PLUGINS_DIR": str(home / "plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq.conf"),
            "RABBITMQ_CONFIG_FILES": str(b / "conf.d"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(b / "mnesia"),
            "RABBITMQ_LOG_BASE": str(b / "log"),
            "RABBITMQ_LOGS": str(self.log_path),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "ERL_EPMD_ADDRESS": LOOPBACK,  # only matters if this node has to start epmd
            "ERL_CRASH_DUMP": str(b / "erl_crash.dump"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": _ERL_DIST_LOOPBACK,
            "RABBITMQ_CTL_ERL_ARGS": _ERL_DIST_LOOPBACK,
        }

    def environment(self) -> dict[str, str]:
        """Full environment for the server and the CLI tools of this node."""
        drop_prefixes = ("RABBITMQ_", "ERL_")
        drop = {"NOTIFY_SOCKET", "NODENAME", "NODE_PORT", "NODE_IP_ADDRESS", "CONFIG_FILE", "CONF_ENV_FILE"}
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes) and k not in drop}
        if not (env.get("LC_ALL") or env.get("LANG")):
            env["LANG"] = "C.UTF-8"  # else the Elixir CLI warns about a latin1 VM encoding
        env.update(self.isolation_env())
        return env

    # ---- persisted state (so a different process -- the stop script -- can drive the node)

    def _state(self) -> dict:
        return {
            "nodename": self.nodename,
            "port": self.port,
            "dist_port": self.dist_port,
            "plugins": list(self.plugins),
            "extra_config": self.extra_config,
            "slim": self.slim,
            "amqp_uri": self.amqp_uri,
            "wrapper_pid": self._proc.pid if self._proc else None,
        }

    def _save_state(self) -> None:
        tmp = self.base_dir / "node.json.tmp"
        tmp.write_text(json.dumps(self._state(), indent=2) + "\n")
        tmp.replace(self.base_dir / "node.json")

    @classmethod
    def load(cls, base_dir: str | os.PathLike, *, tie_to_parent: bool = False) -> "RabbitNode":
        base = Path(base_dir).absolute()
        st = json.loads((base / "node.json").read_text())
        return cls(
            base,
            port=st["port"],
            dist_port=st["dist_port"],
            nodename=st["nodename"],
            plugins=st.get("plugins", ()),
            extra_config=st.get("extra_config", ""),
            slim=st.get("slim"),
            tie_to_parent=tie_to_parent,
        )

    # ---- files

    def _write_files(self) -> None:
        b = self.base_dir
        b.mkdir(parents=True, exist_ok=True)
        for sub in ("log", "mnesia", "conf.d"):
            (b / sub).mkdir(exist_ok=True)
        cookie = b / ".erlang.cookie"
        if not cookie.exists():
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            cookie.write_text("".join(secrets.choice(alphabet) for _ in range(32)))
            cookie.chmod(0o400)
        (b / "rabbitmq.conf").write_text(
            "# generated by tests/support/rabbitmq.py -- do not edit\n"
            f"listeners.tcp.1 = {LOOPBACK}:{self.port}\n"
            "loopback_users.guest = true\n"
            "log.console = false\n"
            "log.file.level = info\n" + (self.extra_config.rstrip() + "\n" if self.extra_config else "")
        )
        (b / "enabled_plugins").write_text("[" + ",".join(self.plugins) + "].\n")
        (b / "rabbitmq-env.conf").write_text(
            "# Intentionally empty: keeps /etc/rabbitmq/rabbitmq-env.conf (NODENAME=rabbit@localhost...)\n"
            "# out of this node. The real settings are environment variables, see env.sh.\n"
        )
        if self.slim and not (b / "home" / "sbin").is_dir():
            if not _build_slim_home(self.install, b / "home", self.plugins):
                self.slim = False
        (b / "env.sh").write_text(
            "# source this to run rabbitmqctl etc. against this node\n"
            + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.isolation_env().items())
            + f"# e.g.  {shlex.quote(str(self._home / 'sbin' / 'rabbitmqctl'))} -n {self.nodename} status\n"
        )

    # ---- process handling

    def _beam_pid(self) -> int | None:
        """Pid of this node's Erlang VM, verified via its command line (``-home <base_dir>``)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if b"beam" not in cmdline or b"\0-home\0" + os.fsencode(str(self.base_dir)) + b"\0" not in cmdline:
            return None
        return pid

    def is_running(self) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return True
        return self._beam_pid() is not None

    def start(self, timeout: float = 90) -> None:
        """Start the node and block until it accepts AMQP connections (kombu login)."""
        if self.is_running():
            if amqp_accepts(self.amqp_uri):
                return
            raise RabbitStartError(f"{self.nodename} is running but not accepting AMQP connections")
        t0 = time.monotonic()
        if not _port_is_free(self.port):
            raise RabbitStartError(f"AMQP port {self.port} already in use (eaddrinuse); refusing to start")
        if not _port_is_free(self.dist_port):
            self.dist_port = pick_free_ports(1, exclude=[self.port])[0]
        self._write_files()
        self.pid_file.unlink(missing_ok=True)
        server = self._home / "sbin" / "rabbitmq-server"
        with open(self.stdout_path, "ab") as out:
            out.write(f"\n==== starting {self.nodename} at {time.strftime('%F %T')} ====\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                [str(server)],
                cwd=self.base_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group; terminal ^C doesn't reach it
                preexec_fn=_die_with_parent if self.tie_to_parent else None,
            )
        if self.tie_to_parent:
            with _LIVE_LOCK:
                _LIVE.add(self)
        self._save_state()
        try:
            self._wait_until_ready(t0 + timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                self.kill()
            raise
        self.last_start_seconds = time.monotonic() - t0

    def _wait_until_ready(self, deadline: float) -> None:
        while True:
            rc = self._proc.poll() if self._proc else None
            if rc is not None:
                raise RabbitStartError(
                    f"RabbitMQ node {self.nodename} exited with {rc} during start-up\n{self.log_tail()}"
                )
            if _tcp_accepts(self.host, self.port, 0.5) and amqp_accepts(self.amqp_uri, timeout=5):
                return
            if time.monotonic() > deadline:
                raise RabbitStartError(
                    f"RabbitMQ node {self.nodename} did not accept AMQP on port {self.port} in time\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def _wait_gone(self, pid: int | None, deadline: float) -> bool:
        while time.monotonic() < deadline:
            proc_done = self._proc is None or self._proc.poll() is not None
            beam_done = pid is None or not _pid_alive(pid)
            if proc_done and beam_done:
                return True
            time.sleep(0.02)
        return False

    def _wait_port_closed(self, deadline: float) -> None:
        while time.monotonic() < deadline and _tcp_accepts(self.host, self.port, 0.2):
            time.sleep(0.02)

    def stop(self, timeout: float = 60) -> None:
        """Graceful stop (SIGTERM to beam); data is kept, so ``start()`` is a broker restart."""
        t0 = time.monotonic()
        pid = self._beam_pid()
        if pid is None and (self._proc is None or self._proc.poll() is not None):
            self._forget_proc()
            return
        try:
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
            else:  # beam not up yet: the wrapper traps TERM and forwards it
                os.killpg(self._proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_gone(pid, t0 + timeout):
            self.kill()
            return
        self._wait_port_closed(t0 + timeout)
        self._forget_proc()
        self.last_stop_seconds = time.monotonic() - t0

    def kill(self) -> None:
        """Hard-kill the node's OS processes (SIGKILL), like a crash / power loss."""
        pid = self._beam_pid()
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        self._wait_gone(pid, deadline)
        self._wait_port_closed(deadline)
        self._forget_proc()

    def _forget_proc(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
        self._proc = None

    def restart(self, timeout: float = 90) -> None:
        self.stop()
        self.start(timeout=timeout)

    def cleanup(self) -> None:
        """Kill the node if running (its data is about to go anyway) and delete ``base_dir``."""
        try:
            if self.is_running():
                self.kill()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # ---- CLI

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n <nodename> *args`` against this node; returns stdout."""
        cmd = [str(self._home / "sbin" / "rabbitmqctl"), "-n", self.nodename, *args]
        res = subprocess.run(
            cmd,
            cwd=self.base_dir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if res.returncode != 0:
            raise RabbitCtlError(cmd, res.returncode, res.stdout, res.stderr)
        return res.stdout

    def queue_depths(self, vhost: str = "/") -> dict[str, int]:
        """Queue name -> ``messages`` (ready + unacknowledged) via ``rabbitmqctl list_queues``."""
        out = self.ctl("list_queues", "-q", "-p", vhost, "--formatter", "json", "name", "messages")
        rows = json.loads(out.strip() or "[]")
        return {row["name"]: int(row.get("messages") or 0) for row in rows}

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.log_path, self.stdout_path):
            tail = _read_tail(path, lines)
            if tail:
                parts.append(f"--- {path} (last {lines} lines) ---\n{tail}")
        return "\n".join(parts) or f"(no log output in {self.base_dir / 'log'})"


class ExternalRabbit:
    """A broker we were pointed at (``TEST_AMQP_URI``): not ours to control."""

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        parts = urlsplit(amqp_uri)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5672
        self.nodename = None
        self.base_dir = None

    def _nope(self, *args, **kwargs):
        raise NotImplementedError(f"the broker at {self.amqp_uri} is external (TEST_AMQP_URI); it can't be controlled")

    start = stop = kill = restart = ctl = queue_depths = _nope

    def cleanup(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<ExternalRabbit {self.amqp_uri}>"


# --------------------------------------------------------------------------- context managers


@contextlib.contextmanager
def throwaway_rabbitmq(
    *, timeout: float = 90, plugins: Sequence[str] = (), extra_config: str = ""
) -> Iterator[RabbitNode]:
    """A fresh node on free ports in a temp dir; killed and deleted on exit (also atexit)."""
    _interrupt_on_sigterm()
    reap_stale_nodes()
    epmd_was_up = _tcp_accepts(LOOPBACK, 4369, 0.3)
    base = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    node: RabbitNode | None = None
    try:
        for attempt in range(3):
            port, dist_port = pick_free_ports(2)
            node = RabbitNode(
                base,
                port=port,
                dist_port=dist_port,
                nodename=f"tt-test-{os.getpid()}-{secrets.token_hex(3)}@localhost",
                plugins=plugins,
                extra_config=extra_config,
            )
            try:
                node.start(timeout=timeout)
                break
            except RabbitStartError as exc:
                if attempt == 2 or not exc.port_conflict:
                    raise
        yield node
    finally:
        if node is not None:
            node.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        if not epmd_was_up:
            _stop_epmd_if_unused()


@contextlib.contextmanager
def rabbitmq_for_tests(**kwargs) -> Iterator[RabbitNode | ExternalRabbit]:
    """``TEST_AMQP_URI`` if set (external broker, no control), else a throwaway node."""
    uri = os.environ.get("TEST_AMQP_URI")
    if uri:
        yield ExternalRabbit(uri)
        return
    with throwaway_rabbitmq(**kwargs) as node:
        yield node


# --------------------------------------------------------------------------- CLI


def _cli(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.rabbitmq", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start (or reuse) a detached node whose files live under --base")
    s.add_argument("--base", required=True)
    s.add_argument("--port", type=int, default=5672)
    s.add_argument("--nodename", default=None, help="default: thongthin-dev-<port>@localhost (or the saved one)")
    s.add_argument("--timeout", type=float, default=120)
    for name in ("stop", "status", "env"):
        x = sub.add_parser(name)
        x.add_argument("--base", required=True)
    c = sub.add_parser("ctl", help="rabbitmqctl against the node under --base")
    c.add_argument("--base", required=True)
    c.add_argument("args", nargs=argparse.REMAINDER)
    t = sub.add_parser("throwaway", help="start a throwaway node, print timings, wait for ^C")
    t.add_argument("--no-wait", action="store_true")
    a = p.parse_args(argv)

    if a.cmd == "start":
        base = Path(a.base).absolute()
        node: RabbitNode | None = None
        if (base / "node.json").exists():
            node = RabbitNode.load(base)
            if node.port != a.port:  # same data, different port: keep nodename, move the listener
                node = RabbitNode(base, port=a.port, dist_port=node.dist_port, nodename=node.nodename,
                                  plugins=node.plugins, extra_config=node.extra_config, tie_to_parent=False)
        if node is None:
            nodename = a.nodename or f"thongthin-dev-{a.port}@localhost"
            port_a = pick_free_ports(1, exclude=[a.port])[0]
            node = RabbitNode(base, port=a.port, dist_port=port_a, nodename=nodename, tie_to_parent=False)
        if node.is_running() and amqp_accepts(node.amqp_uri):
            print(node.nodename)
            return 0
        try:
            node.start(timeout=a.timeout)
        except RabbitStartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(node.nodename)
        print(f"started in {node.last_start_seconds:.1f}s", file=sys.stderr)
        return 0

    if a.cmd == "throwaway":
        t0 = time.monotonic()
        with throwaway_rabbitmq() as node:
            print(f"{node.nodename} {node.amqp_uri} base={node.base_dir}")
            print(f"start (incl. temp dir, port pick): {time.monotonic() - t0:.2f}s; node.start: {node.last_start_seconds:.2f}s")
            t1 = time.monotonic()
            node.restart()
            print(f"restart: {time.monotonic() - t1:.2f}s (stop {node.last_stop_seconds:.2f}s, start {node.last_start_seconds:.2f}s)")
            if not a.no_wait:
                with contextlib.suppress(KeyboardInterrupt):
                    print("^C to stop and clean up", flush=True)
                    while True:
                        time.sleep(3600)
            t2 = time.monotonic()
        print(f"cleanup: {time.monotonic() - t2:.2f}s")
        return 0

    base = Path(a.base).absolute()
    if not (base / "node.json").exists():
        print(f"no node state in {base}", file=sys.stderr)
        return 0 if a.cmd == "stop" else 1
    node = RabbitNode.load(base)
    if a.cmd == "stop":
        node.stop()
        print(f"stopped {node.nodename}")
        return 0
    if a.cmd == "status":
        running = node.is_running()
        print(f"{node.nodename} {'running' if running else 'stopped'} {node.amqp_uri}")
        return 0 if running else 1
    if a.cmd == "env":
        print("".join(f"export {k}={shlex.quote(v)}\n" for k, v in node.isolation_env().items()), end="")
        return 0
    if a.cmd == "ctl":
        args = a.args[1:] if a.args[:1] == ["--"] else a.args
        try:
            sys.stdout.write(node.ctl(*args))
        except RabbitCtlError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(_cli())
