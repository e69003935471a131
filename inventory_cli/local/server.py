"""The emulator process: `python -m inventory_cli.local.server --home DIR [--port N]`.

moto's server (all services on one port, threaded) with the seam installed and the Lambda
runtime and outbox attached. Started in the background by `emulator.start`; writes
`emulator.json` once it listens (so `--port 0` works), and on SIGTERM stops serving, ends its
Lambda workers and removes the file. Routes of its own, under a prefix no bucket name can
take: `GET /_inventory/health`, `GET /_inventory/idle?timeout=S` (waits until every queued
event and stream record has been handled), `/_inventory/function-urls/<function>/...` (the
function URLs of the functions that have one, see `function_urls.py`) and `/_inventory/meter`
(what AWS would bill for the requests served: `GET` since the start or `?since=MARK`,
`POST ?mark=NAME` to set a mark; see `seam/meter.py`).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from inventory_cli.local import function_urls, pages
from inventory_cli.local.function_urls import HttpResponse
from inventory_cli.local.state import EmulatorInfo, clear_state, write_state

if TYPE_CHECKING:
    from inventory_cli.local.seam.meter import Meter

logger = logging.getLogger("inventory.emulator")

EXIT_CANNOT_LISTEN = 3
HEALTH_PATH = "/_inventory/health"
IDLE_PATH = "/_inventory/idle"
METER_PATH = "/_inventory/meter"
MAX_MARK_LENGTH = 100
# DynamoDB writes a second per table the emulator takes (unset: no limit); see seam/dynamodb.py.
WRITE_LIMIT_ENV = "INVENTORY_LOCAL_DDB_WRITE_LIMIT"
# Longest a single /_inventory/idle request may wait; callers loop for longer waits.
_MAX_IDLE_WAIT_S = 60.0

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EmulatorApp:
    """Answers the emulator's own routes and hands everything else to moto."""

    def __init__(self, moto_app: WsgiApp, info: EmulatorInfo, stats: Callable[[], dict[str, int]],
                 wait_idle: Callable[[float], bool],
                 function_url: Callable[[dict[str, Any]], HttpResponse] | None = None, *,
                 meter: Meter | None = None) -> None:
        self._moto_app = moto_app
        self._meter = meter
        self._info = info
        self._stats = stats
        self._wait_idle = wait_idle
        self._function_url = function_url

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return self._json(start_response, {**self._info.to_json(),
                                               "lambda": self._stats()})
        if path == IDLE_PATH:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                timeout = min(float(query.get("timeout", ["10"])[0]), _MAX_IDLE_WAIT_S)
            except ValueError:
                timeout = 10.0
            idle = self._wait_idle(max(0.0, timeout))
            return self._json(start_response, {"idle": idle, "lambda": self._stats()})
        # A private dashboard's files: the emulator plays its CloudFront distribution.
        if path.startswith(pages.PREFIX):
            return self._respond(start_response, pages.serve(environ))
        if path == METER_PATH and self._meter is not None:
            return self._meter_route(environ, start_response, self._meter)
        if path.startswith(function_urls.PREFIX) and self._function_url is not None:
            response = self._function_url(environ)
            start_response(f"{response.status} {HTTPStatus(response.status).phrase}",
                           [*response.headers, ("Content-Length", str(len(response.body)))])
            return [response.body]
        return self._moto_app(environ, start_response)

    def _meter_route(self, environ: dict[str, Any], start_response: Callable[..., Any],
                     meter: Meter) -> list[bytes]:
        from inventory_cli.local.seam.meter import UnknownMark

        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            name = (query.get("mark") or [""])[0].strip()
            if not name or len(name) > MAX_MARK_LENGTH or not name.isprintable():
                return self._json(start_response, {
                    "error": f"a mark needs a name of 1 to {MAX_MARK_LENGTH} printable "
                             "characters: POST /_inventory/meter?mark=NAME"},
                    HTTPStatus.BAD_REQUEST)
            return self._json(start_response, meter.mark(name))
        if method != "GET":
            return self._json(start_response, {"error": f"{method} is not served here: GET or "
                                                        "POST"}, HTTPStatus.METHOD_NOT_ALLOWED)
        since = (query.get("since") or [None])[0]
        try:
            return self._json(start_response, meter.report(since=since or None))
        except UnknownMark:
            return self._json(start_response, {"error": f"no mark named {since!r}",
                                               "marks": meter.marks()}, HTTPStatus.NOT_FOUND)

    @staticmethod
    def _respond(start_response: Callable[..., Any], response: HttpResponse) -> list[bytes]:
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}",
                       [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    @staticmethod
    def _json(start_response: Callable[..., Any], body: dict[str, Any],
              status: HTTPStatus = HTTPStatus.OK) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(f"{status.value} {status.phrase}", [("Content-Type", "application/json"),
                                                           ("Content-Length", str(len(data)))])
        return [data]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m inventory_cli.local.server",
                                     description="The inventory tool's local AWS emulator.")
    parser.add_argument("--home", required=True, type=Path, help="state folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _write_limit(text: str) -> int | None:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        logger.warning("%s=%r is not a whole number; writes are not limited", WRITE_LIMIT_ENV,
                       text)
        return None
    return value if value > 0 else None


def _start_metrics_and_alarms(runtime: Any) -> None:
    """Lambda's metrics into the emulator's CloudWatch (`local/metrics.py`), and the alarms
    evaluated on them (`local/alarms.py`: a daemon thread, it ends with the process)."""
    from inventory_cli.local.alarms import AlarmEvaluator
    from inventory_cli.local.metrics import LambdaMetrics
    from inventory_cli.local.seam.cloudwatch import alarm_changed

    runtime.records.add(LambdaMetrics())
    evaluator = AlarmEvaluator.from_environment()
    alarm_changed.append(evaluator.wake)
    evaluator.start()


def _start_scheduler() -> Any:
    """EventBridge's scheduled rules: moto keeps them, the scheduler runs their Lambda targets
    when due (`inventory_cli/local/scheduler.py`)."""
    from inventory_cli.local import scheduler as schedules
    from inventory_cli.local.seam import events

    scheduler = schedules.Scheduler(
        events.scheduled_rules, events.invoke_target,
        every=schedules.every_from_env(os.environ.get(schedules.SCHEDULE_EVERY_ENV, "")))
    scheduler.start()
    return scheduler


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - the process's life, in order
    args = _parse_args(argv)
    home: Path = args.home.resolve()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)
    # AWS managed policies are not loaded (MOTO_IAM_LOAD_MANAGED_POLICIES): provisioning uses
    # inline policies only, and loading them adds about 2.5 s to the first IAM call.

    from werkzeug.serving import make_server

    from inventory_cli.local import seam
    from inventory_cli.local.lambda_runtime import LambdaRuntime
    from inventory_cli.local.outbox import Outbox, outbox_path
    from inventory_cli.local.seam import (
        awslambda,
        dynamodb,
        function_url_permissions,
        lambda_recursion,
        logs,
        meter,
    )

    seam.install()
    write_limit = _write_limit(os.environ.get(WRITE_LIMIT_ENV, ""))
    if write_limit:
        dynamodb.set_ddb_write_limit(write_limit)
        logger.info("DynamoDB writes limited to %d a second per table", write_limit)
    moto_app, request_handler = seam.server_app()
    holder: dict[str, EmulatorApp] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return holder["app"](environ, start_response)

    try:
        server = make_server(args.host, args.port, app, threaded=True,
                             request_handler=request_handler)
    except (OSError, SystemExit) as exc:  # werkzeug reports "address in use" by exiting
        reason = exc.strerror if isinstance(exc, OSError) else "address in use"
        print(f"inventory emulator: cannot listen on {args.host}:{args.port}: {reason}",
              file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    port = int(server.server_port)
    endpoint = f"http://{args.host}:{port}"
    os.environ["MOTO_PORT"] = str(port)

    runtime = LambdaRuntime(home=home, endpoint=endpoint, log_sink=logs.MotoLogSink(),
                            destinations=awslambda.MotoFailureDestinations(),
                            loop_allowed=lambda_recursion.loop_allowed)
    outbox = Outbox(outbox_path(home))
    # The outbox belongs to this emulator's lifetime, like every other piece of its state.
    outbox.clear()
    seam.attach(runtime=runtime, outbox=outbox)
    _start_metrics_and_alarms(runtime)
    runtime.records.add(meter.METER.record_invocation)  # Lambda's part of the bill
    info = EmulatorInfo(endpoint=endpoint, pid=os.getpid(), port=port, home=home,
                        started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    def function_url(environ: dict[str, Any]) -> HttpResponse:
        def invoke(spec: Any, event_json: str) -> tuple[bool, str]:
            result = runtime.invoke(spec, event_json)
            return result.ok, result.payload

        return function_urls.handle(environ, find=function_url_permissions.find_target,
                                    invoke=invoke, endpoint=endpoint)

    holder["app"] = EmulatorApp(moto_app, info, runtime.stats, runtime.wait_idle, function_url,
                                meter=meter.METER)
    scheduler = _start_scheduler()

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("received signal %d, stopping", signum)
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    _tune_garbage_collection()
    write_state(info)
    logger.info("serving on %s (pid %d, state in %s)", endpoint, info.pid, home)
    try:
        server.serve_forever()
    finally:
        scheduler.stop()
        seam.detach()
        runtime.shutdown()
        clear_state(home, pid=info.pid)
        logger.info("stopped")
    return 0


def _tune_garbage_collection() -> None:
    """The emulator holds every item of every table as Python objects (hundreds of thousands
    after a big load) and allocates many short-lived ones per request: with Python's default
    thresholds the full collections that walk all of them ran ever more often as tables grew.
    What exists at start-up (moto, botocore's models) is frozen out of the collector, and the
    youngest generation is collected after 20,000 allocations instead of 700. Cycles are still
    collected; only less often."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


if __name__ == "__main__":
    sys.exit(main())
