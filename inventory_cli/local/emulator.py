"""Start, find, wait for and stop the emulator process.

The emulator runs detached from the command that started it (its own session and process
group, output in `<home>/emulator.log`), so it outlives `inventory local start` and serves any
client. Its Lambda workers are its children in the same process group: `stop` ends the server
(which ends its workers) and then makes sure no member of the group is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from inventory_cli.errors import EmulatorError
from inventory_cli.local.server import EXIT_CANNOT_LISTEN, HEALTH_PATH, IDLE_PATH, METER_PATH
from inventory_cli.local.state import (
    LOCK_FILE,
    LOG_FILE,
    EmulatorInfo,
    clear_state,
    read_state,
    state_home,
)

__all__ = ["DEFAULT_PORT", "EmulatorInfo", "ensure_running", "process_group_members", "start",
           "start_private", "state_home", "status", "stop", "wait_until_idle"]

DEFAULT_PORT = 4599
HOST = "127.0.0.1"
_SERVER_MODULE = "inventory_cli.local.server"
# Requests to the emulator never go through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Servers this process started: kept so they can be reaped (no zombie) and are not reported
# by the subprocess module as "still running" when the object is collected.
_launched: dict[int, subprocess.Popen[bytes]] = {}


class _Printer(Protocol):
    def print(self, *objects: Any, **kwargs: Any) -> None: ...


def _home(home: Path | None) -> Path:
    return (home or state_home()).resolve()


# -- processes ---------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    _reap(pid)
    if Path("/proc/self").exists():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"  # a zombie has exited; only its parent has not collected it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect the exit status of a server this process started (else it stays a zombie)."""
    proc = _launched.get(pid)
    if proc is not None and proc.poll() is not None:
        _launched.pop(pid, None)


def _is_emulator_process(pid: int, home: Path) -> bool:
    """Guard against a recycled pid: the process must be our server for this home."""
    if not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no /proc (macOS): the health check decides
        return True
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return _SERVER_MODULE.encode() in args and str(home).encode() in args


def process_group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group; uses /proc where it exists."""
    proc = Path("/proc")
    if not (proc / "self").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # Fields after the command name: state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return sorted(members)


def _health(endpoint: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
    try:
        with _DIRECT.open(endpoint + HEALTH_PATH, timeout=timeout_s) as response:
            data = json.loads(response.read())
            return data if isinstance(data, dict) else None
    except (OSError, ValueError, urllib.error.URLError):
        return None


# -- status ------------------------------------------------------------------------------------

def _recorded(home: Path) -> EmulatorInfo | None:
    """The emulator process recorded for `home` if it still runs; a stale record is removed."""
    info = read_state(home)
    if info is None:
        return None
    if not _is_emulator_process(info.pid, home):
        clear_state(home, pid=info.pid)
        return None
    return info


def status(home: Path | None = None) -> EmulatorInfo | None:
    """The emulator serving `home`, or None when none runs.

    Raises EmulatorError when its process runs but does not answer.
    """
    home = _home(home)
    info = _recorded(home)
    if info is None:
        return None
    for _ in range(3):
        health = _health(info.endpoint)
        if health is not None and health.get("pid") == info.pid:
            return info
        time.sleep(0.2)
    raise EmulatorError(f"the local emulator (pid {info.pid}) runs but does not answer at "
                        f"{info.endpoint}", hint="stop it with `inventory local stop`; its log "
                        f"is {info.log_file}")


def _log_tail(home: Path, lines: int = 5) -> str:
    try:
        text = (home / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One start or stop at a time per state folder, across processes."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- start -------------------------------------------------------------------------------------

def start(home: Path | None = None, port: int = DEFAULT_PORT, *,
          environ: Mapping[str, str] | None = None, timeout_s: float = 30.0,
          sleep: Callable[[float], None] = time.sleep) -> tuple[EmulatorInfo, bool]:
    """Start the emulator in the background; returns (info, True) once it answers.

    When one already serves `home`, returns (its info, False) and starts nothing. `port=0`
    picks a free port. `environ` is the server's environment (default: this process's).
    """
    home = _home(home)
    with _locked(home):
        running = status(home)
        if running is not None:
            return running, False
        clear_state(home)
        log_path = home / LOG_FILE
        if log_path.exists():
            log_path.replace(home / f"{LOG_FILE}.1")
        with log_path.open("ab") as log:
            proc = _spawn_server(home, port, environ, log)
        _launched[proc.pid] = proc
        return _await_ready(proc, home, port, timeout_s, sleep), True


def _spawn_server(home: Path, port: int, environ: Mapping[str, str] | None,
                  log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = dict(os.environ if environ is None else environ)
    # The emulator must not talk to itself through an endpoint meant for the CLI.
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", _SERVER_MODULE, "--home", str(home), "--host", HOST,
         "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=home, env=env,
        start_new_session=True,  # its own process group: detached, and stoppable as a whole
    )


def _await_ready(proc: subprocess.Popen[bytes], home: Path, port: int, timeout_s: float,
                 sleep: Callable[[float], None]) -> EmulatorInfo:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            _launched.pop(proc.pid, None)
            tail = _log_tail(home)
            if code == EXIT_CANNOT_LISTEN:
                raise EmulatorError(f"cannot start the local emulator: port {port} is in use",
                                    hint="choose another port with `inventory local start "
                                         "--port N`, or stop what uses it")
            raise EmulatorError(f"the local emulator exited at start-up (exit code {code}): "
                                f"{tail or 'no output'}",
                                hint=f"see {home / LOG_FILE}")
        info = read_state(home)
        if info is not None and info.pid == proc.pid:
            health = _health(info.endpoint)
            if health is not None and health.get("pid") == proc.pid:
                return info
        sleep(0.05)
    _terminate_group(proc.pid, timeout_s=5.0)
    raise EmulatorError(f"the local emulator did not answer within {timeout_s:.0f} s",
                        hint=f"see {home / LOG_FILE}")


def ensure_running(console: _Printer | None = None, home: Path | None = None,
                   port: int = DEFAULT_PORT) -> EmulatorInfo:
    """The running emulator for `home`, started first if needed (used by `--local`)."""
    info, started = start(home, port)
    if started and console is not None:
        console.print(f"Started the local emulator at {info.endpoint} (pid {info.pid}); "
                      "stop it with `inventory local stop`.")
    return info


# -- stop --------------------------------------------------------------------------------------

def stop(home: Path | None = None, *, timeout_s: float = 10.0) -> EmulatorInfo | None:
    """Stop the emulator serving `home` and every Lambda worker it started.

    Returns what was stopped, or None when nothing was running (a stale record is removed).
    """
    home = _home(home)
    with _locked(home):
        info = _recorded(home)
        if info is None:
            return None
        _terminate_group(info.pid, timeout_s=timeout_s)
        clear_state(home, pid=info.pid)
        return info


def _terminate_group(pid: int, *, timeout_s: float) -> None:
    """SIGTERM the server (it ends its workers), then SIGKILL whatever of its group is left."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout_s):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if not _wait_gone(pid, 5.0):
        raise EmulatorError(f"could not stop the local emulator (process group {pid}): "
                            f"processes {process_group_members(pid)} are still running")


def _wait_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        _reap(pgid)
        if not process_group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# -- helpers for the demo and end-to-end tests -------------------------------------------------

@contextlib.contextmanager
def start_private(home: Path, port: int = 0, *,
                  environ: Mapping[str, str] | None = None) -> Iterator[EmulatorInfo]:
    """An emulator of one's own (own state folder, free port), stopped on exit."""
    info, started = start(home, port, environ=environ)
    if not started:
        raise EmulatorError(f"an emulator already serves {home}; a private one needs its own "
                            "state folder")
    try:
        yield info
    finally:
        stop(home)


def wait_until_idle(info: EmulatorInfo, timeout_s: float = 60.0) -> bool:
    """Wait until every queued Lambda event and stream record has been handled.

    Useful after an upload: S3 -> load function -> stream -> check function all run
    asynchronously, as on AWS. Returns False if work was still pending at the deadline.
    """
    return wait_until_idle_at(info.endpoint, timeout_s)


def wait_until_idle_at(endpoint: str, timeout_s: float = 60.0) -> bool:
    """`wait_until_idle` for the emulator answering at `endpoint`."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        wait = max(0.0, min(remaining, 30.0))
        try:
            with _DIRECT.open(f"{endpoint}{IDLE_PATH}?timeout={wait:.1f}",
                              timeout=wait + 10) as response:
                if json.loads(response.read()).get("idle"):
                    return True
        except (OSError, ValueError, urllib.error.URLError) as exc:
            raise EmulatorError(f"the local emulator at {endpoint} does not answer: "
                                f"{exc}") from None
        if remaining <= 0:
            return False


# -- the meter (served by the emulator, see seam/meter.py) --------------------------------------

def _meter_call(endpoint: str, query: str, *, post: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(f"{endpoint}{METER_PATH}?{query}",
                                     method="POST" if post else "GET")
    try:
        with _DIRECT.open(request, timeout=30) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
        except ValueError:
            answer = {}
        marks = answer.get("marks")
        raise EmulatorError(f"the local emulator's meter: {answer.get('error') or exc}",
                            hint=(f"marks: {', '.join(marks)}" if marks else
                                  "no mark is set yet; set one with --mark NAME")
                            if marks is not None else None) from None
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"the local emulator at {endpoint} does not answer: {exc}") from None


def read_meter(endpoint: str, *, since: str | None = None) -> dict[str, Any]:
    """What AWS would bill for the requests the emulator served since it started, or since
    the mark `since`."""
    return _meter_call(endpoint, urllib.parse.urlencode({"since": since} if since else {}))


def mark_meter(endpoint: str, name: str) -> dict[str, Any]:
    """Set (or move) the meter's mark `name` to now."""
    return _meter_call(endpoint, urllib.parse.urlencode({"mark": name}), post=True)
