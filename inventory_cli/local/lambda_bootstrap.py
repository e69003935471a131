"""The code that runs inside a Lambda worker process (one execution environment of one function).

Started by `lambda_worker.Worker` as `python -I lambda_bootstrap.py` with the function's
environment only, in the folder its zip was extracted to. Standard library only, and no import of
`inventory_cli`: the worker must look like the Lambda Python runtime, not like the emulator.

Protocol, JSON lines:
- stdin, first line: {"handler", "code_dir", "function_name", "function_version", "function_arn",
  "memory_mb", "log_group", "log_stream"}; then one line per invocation:
  {"request_id", "event" (JSON text), "deadline_ms" (epoch milliseconds), "trace_header"}.
- protocol channel (the original stdout): {"type": "ready", "init_ms", "output"} or
  {"type": "init_error", "payload", "output"} once, then per invocation
  {"type": "result", "request_id", "ok", "payload", "output", "duration_ms", "max_memory_mb"}.

The invocation's trace header is set as `_X_AMZN_TRACE_ID` while the handler runs, as the Lambda
Python runtime does; botocore sends it on every request as `X-Amzn-Trace-Id` whenever
`AWS_LAMBDA_FUNCTION_NAME` is set too (its `add_recursion_detection_header`), which is how the
emulator follows a chain of requests for recursive loop detection.

What the handler prints or logs is captured per invocation and returned as "output"; file
descriptor 1 is pointed at stderr so that stray low-level writes cannot corrupt the protocol.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

# The variable the Lambda runtime sets per invocation to the X-Ray trace header.
TRACE_ENV = "_X_AMZN_TRACE_ID"


class _Capture(io.TextIOBase):
    """Per-invocation buffer that stands in for sys.stdout and sys.stderr (thread-safe)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def take(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
        return text


class LambdaContext:
    """The `context` argument, with the attributes the AWS Python runtime provides."""

    def __init__(self, setup: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.function_name: str = setup["function_name"]
        self.function_version: str = setup["function_version"]
        self.invoked_function_arn: str = setup["function_arn"]
        self.memory_limit_in_mb: int = int(setup["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name: str = setup["log_group"]
        self.log_stream_name: str = setup["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _LambdaLogHandler(logging.Handler):
    """Like the runtime's handler: `[LEVEL]\\t<time>\\t<request id>\\t<message>` to stdout.

    It writes to whatever sys.stdout is at emit time, i.e. the current invocation's capture.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the handler
            self.handleError(record)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def _configure_logging() -> _RequestIdFilter:
    request_filter = _RequestIdFilter()
    handler = _LambdaLogHandler()
    handler.setFormatter(_UtcFormatter("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t"
                                       "%(message)s"))
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The Lambda runtime leaves the root level at WARNING; handlers raise it themselves.
    root.setLevel(logging.WARNING)
    return request_filter


def _error_payload(exc: BaseException, request_id: str | None = None, *,
                   error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
    }
    if request_id:
        payload["requestId"] = request_id
    payload["stackTrace"] = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return payload


def _log_exception(capture: _Capture, payload: dict[str, Any], exc: BaseException) -> None:
    # The AWS runtime logs an uncaught exception as "[ERROR] Type: message" plus the traceback.
    tb = "".join(traceback.format_exception(exc))
    capture.write(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\n{tb}")


def _load_handler(spec: str) -> Callable[..., Any]:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"Bad handler '{spec}': expected module.function")
    module = importlib.import_module(module_name)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


def _max_memory_mb() -> int:
    # VmHWM is this program's peak; ru_maxrss would include the forked emulator's before exec.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _invoke(handler: Callable[..., Any], setup: dict[str, Any], request: dict[str, Any],
            capture: _Capture, request_filter: _RequestIdFilter) -> dict[str, Any]:
    request_id = request["request_id"]
    request_filter.request_id = request_id
    context = LambdaContext(setup, request_id, int(request["deadline_ms"]))
    trace_header = request.get("trace_header")
    if trace_header:
        os.environ[TRACE_ENV] = str(trace_header)
    else:
        os.environ.pop(TRACE_ENV, None)
    started = time.perf_counter()
    ok = True
    try:
        event = json.loads(request["event"])
        result = handler(event, context)
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            ok = False
            error = _error_payload(exc, request_id, error_type="Runtime.MarshalError",
                                   message=f"Unable to marshal response: {exc}")
            _log_exception(capture, error, exc)
            payload = json.dumps(error)
    except Exception as exc:  # noqa: BLE001 - an uncaught handler error is reported, not fatal
        ok = False
        error = _error_payload(exc, request_id)
        _log_exception(capture, error, exc)
        payload = json.dumps(error)
    duration_ms = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    return {"type": "result", "request_id": request_id, "ok": ok, "payload": payload,
            "output": capture.take(), "duration_ms": round(duration_ms, 2),
            "max_memory_mb": _max_memory_mb()}


def main() -> int:
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
    first = stdin.readline()
    if not first:
        return 0
    setup = json.loads(first)
    code_dir = setup["code_dir"]
    # The zip comes first, as /var/task does on Lambda: its packages win over installed ones.
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)

    capture = _Capture()
    sys.stdout = capture
    sys.stderr = capture
    request_filter = _configure_logging()

    started = time.perf_counter()
    try:
        handler = _load_handler(setup["handler"])
    except Exception as exc:  # noqa: BLE001 - reported as the runtime does, then the worker exits
        if isinstance(exc, ImportError | SyntaxError):
            error = _error_payload(exc, error_type="Runtime.ImportModuleError",
                                   message=f"Unable to import module "
                                           f"'{setup['handler'].rpartition('.')[0]}': {exc}")
        else:
            error = _error_payload(exc, error_type="Runtime.HandlerNotFound")
        _log_exception(capture, error, exc)
        _send(channel, {"type": "init_error", "payload": json.dumps(error),
                        "output": capture.take()})
        return 1
    _send(channel, {"type": "ready", "init_ms": round((time.perf_counter() - started) * 1000, 2),
                    "output": capture.take()})

    for line in stdin:
        if not line.strip():
            continue
        _send(channel, _invoke(handler, setup, json.loads(line), capture, request_filter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
