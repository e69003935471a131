"""One Lambda execution environment: a warm worker process running one function's code.

The worker is a separate Python process (see `lambda_bootstrap.py`) started in the folder the
function's zip was extracted to, with the function's environment variables and the Lambda
runtime's standard ones, and nothing else from the emulator's environment. It serves one
invocation at a time, like a Lambda execution environment, and stays warm between them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventory_cli.local import lambda_bootstrap

logger = logging.getLogger(__name__)

# The credentials a function sees when its spec carries none (its role's, from the seam).
_FUNCTION_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "inventory-local-function",
    "AWS_SECRET_ACCESS_KEY": "inventory-local-function",
    "AWS_SESSION_TOKEN": "inventory-local-function",
}
# How long a new worker may take to import the handler (Lambda's init phase is capped at 10 s).
INIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RuntimeFunction:
    """What the runtime needs to know about one function: plain data, no moto objects."""

    arn: str
    name: str
    handler: str
    runtime: str
    code_sha256: str
    code: bytes = field(repr=False, compare=False)
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0
    memory_mb: int = 128
    version: str = "$LATEST"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Changes whenever the function object is replaced (delete and re-create).
    instance_id: str = ""
    # The execution role's temporary credentials (AWS_ACCESS_KEY_ID, ...), as Lambda sets them.
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def generation(self) -> tuple[Any, ...]:
        """Workers serve one generation; new code or configuration means new workers."""
        return (self.code_sha256, self.handler, self.runtime, self.timeout_s, self.memory_mb,
                tuple(sorted(self.environment.items())), self.instance_id,
                tuple(sorted(self.credentials.items())))


@dataclass(frozen=True)
class WorkerReply:
    """The outcome of one invocation in a worker."""

    ok: bool
    payload: str
    output: str
    duration_ms: float
    max_memory_mb: int = 0
    init_ms: float | None = None
    # The worker is gone (crash, timeout, init failure) and must not be reused.
    worker_lost: bool = False


def extract_code(spec: RuntimeFunction, code_root: Path) -> Path:
    """Unzip the function's code once per CodeSha256 (atomically: concurrent callers are fine)."""
    target = code_root / code_folder_name(spec.code_sha256)
    if target.is_dir():
        return target
    code_root.mkdir(parents=True, exist_ok=True)
    staging = code_root / f".{target.name}.{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        with zipfile.ZipFile(_BytesReader(spec.code)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # a concurrent caller won the race otherwise
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def code_folder_name(code_sha256: str) -> str:
    """CodeSha256 is base64 (it may contain "/"): the folder is named by its hex form."""
    try:
        return base64.b64decode(code_sha256, validate=True).hex()
    except (binascii.Error, ValueError):
        return hashlib.sha256(code_sha256.encode()).hexdigest()


class _BytesReader:
    """A seekable file over bytes without copying them (zipfile needs seek/tell/read)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view),
                                                                    self._pos + size)
        chunk = bytes(self._view[self._pos:end])
        self._pos = end
        return chunk


def function_environment(spec: RuntimeFunction, *, endpoint: str, code_dir: Path,
                         log_stream: str) -> dict[str, str]:
    """The whole environment of a worker: the function's variables plus Lambda's own."""
    env = {str(k): str(v) for k, v in spec.environment.items()}
    # Reserved variables win over the function's, as on Lambda (which rejects them at creation).
    env.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_ENDPOINT_URL": endpoint,
        # Keep the developer's ~/.aws files out of the function, as on Lambda.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **(dict(spec.credentials) or _FUNCTION_CREDENTIALS),
    })
    return env


def log_stream_name(spec: RuntimeFunction, worker_id: str) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime())
    return f"{day}/[{spec.version}]{worker_id}"


class Worker:
    """A warm worker process for one generation of one function; one invocation at a time."""

    def __init__(self, spec: RuntimeFunction, *, code_dir: Path, endpoint: str,
                 python: str = sys.executable) -> None:
        self.spec = spec
        self.worker_id = uuid.uuid4().hex
        self.log_stream = log_stream_name(spec, self.worker_id)
        self.last_used = time.monotonic()
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._init_ms: float | None = None
        self._init_output = ""
        self._ready = False
        env = function_environment(spec, endpoint=endpoint, code_dir=code_dir,
                                   log_stream=self.log_stream)
        # -I: ignore PYTHON* variables and the user's site; the script's folder is not on sys.path.
        self._process = subprocess.Popen(
            [python, "-I", "-u", lambda_bootstrap.__file__],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            env=env, cwd=code_dir, text=True, encoding="utf-8", bufsize=1,
        )
        assert self._process.stdin is not None
        setup = {"handler": spec.handler, "code_dir": str(code_dir), "function_name": spec.name,
                 "function_version": spec.version, "function_arn": spec.arn,
                 "memory_mb": spec.memory_mb, "log_group": spec.log_group,
                 "log_stream": self.log_stream}
        self._process.stdin.write(json.dumps(setup) + "\n")
        self._process.stdin.flush()
        self._reader = threading.Thread(target=self._read_replies, daemon=True,
                                        name=f"lambda-reader-{spec.name}")
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _read_replies(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            try:
                self._replies.put(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("worker %s of %s wrote a malformed line: %r", self.pid,
                               self.spec.name, line[:200])
        self._replies.put(None)  # end of file: the process is gone

    def _await_init(self) -> WorkerReply | None:
        """Wait for the handler import; None when ready, else the failed invocation's reply."""
        if self._ready:
            return None
        started = time.monotonic()
        try:
            message = self._replies.get(timeout=INIT_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            return self._lost(f"Init phase timed out after {INIT_TIMEOUT_S:.2f} seconds",
                              "Runtime.InitTimeout", started)
        if message is None:
            return self._lost(self._exit_text(), "Runtime.ExitError", started)
        self._init_output = str(message.get("output", ""))
        if message.get("type") == "init_error":
            self.stop()
            return WorkerReply(ok=False, payload=str(message["payload"]),
                               output=self._init_output, duration_ms=0.0, worker_lost=True)
        self._ready = True
        self._init_ms = float(message.get("init_ms", 0.0))
        return None

    def invoke(self, event_json: str, *, request_id: str, timeout_s: float,
               trace_header: str | None = None) -> WorkerReply:
        """Run one invocation; on timeout or crash the worker is killed and marked lost.
        `trace_header`: the X-Ray trace header of the invocation's chain of requests, which the
        runtime sets as `_X_AMZN_TRACE_ID` for the handler (and its SDK sends on)."""
        self.last_used = time.monotonic()
        failed_init = self._await_init()
        if failed_init is not None:
            return failed_init
        init_ms, self._init_ms = self._init_ms, None  # reported once, on the first invocation
        init_output, self._init_output = self._init_output, ""
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        started = time.monotonic()
        request = {"request_id": request_id, "event": event_json, "deadline_ms": deadline_ms,
                   "trace_header": trace_header}
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except (OSError, ValueError):  # the process is gone or was stopped meanwhile
            return self._lost(self._exit_text(), "Runtime.ExitError", started,
                              request_id=request_id)
        try:
            message = self._replies.get(timeout=timeout_s)
        except queue.Empty:
            peak_mb = self.peak_memory_mb()  # read before the process (and its record) is gone
            self.stop()
            return self._lost(f"Task timed out after {timeout_s:.2f} seconds",
                              "Sandbox.Timedout", started, request_id=request_id,
                              max_memory_mb=peak_mb)
        finally:
            self.last_used = time.monotonic()
        if message is None:
            return self._lost(self._exit_text(), "Runtime.ExitError", started,
                              request_id=request_id)
        return WorkerReply(ok=bool(message["ok"]), payload=str(message["payload"]),
                           output=init_output + str(message.get("output", "")),
                           duration_ms=float(message.get("duration_ms", 0.0)),
                           max_memory_mb=int(message.get("max_memory_mb", 0)),
                           init_ms=init_ms)

    def _exit_text(self) -> str:
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.stop()
            code = self._process.returncode
        if code is not None and code < 0:
            return f"Runtime exited with error: signal {-code}"
        return f"Runtime exited with error: exit status {code}"

    def peak_memory_mb(self) -> int:
        """The worker process's peak resident memory (VmHWM), as the worker itself reports it;
        0 once the process is gone."""
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text(encoding="ascii")
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def _lost(self, message: str, error_type: str, started: float, *,
              request_id: str | None = None, max_memory_mb: int = 0) -> WorkerReply:
        text = f"RequestId: {request_id} Error: {message}" if request_id else message
        payload = {"errorMessage": text, "errorType": error_type}
        return WorkerReply(ok=False, payload=json.dumps(payload), output=message + "\n",
                           duration_ms=(time.monotonic() - started) * 1000,
                           max_memory_mb=max_memory_mb, worker_lost=True)

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the process: close its input (it exits), then terminate, then kill."""
        if self._process.poll() is None:
            try:
                if self._process.stdin is not None:
                    self._process.stdin.close()
            except OSError:
                pass
            try:
                self._process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                self._process.terminate()
                try:
                    self._process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        # The reader thread sees end-of-file once the process is gone and closes nothing itself.
        self._reader.join(timeout=1.0)
        if self._process.stdout is not None and not self._reader.is_alive():
            self._process.stdout.close()
