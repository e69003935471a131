"""The emulator's scheduler: runs the Lambda targets of scheduled EventBridge rules when due.

moto keeps rules but runs none. Once a second this looks at the enabled rules with a
`rate(...)` expression (through `seam/events.py`) and, when one is due, invokes each of its
Lambda targets asynchronously with the event EventBridge sends for a schedule ("detail-type":
"Scheduled Event", "source": "aws.events", the rule's ARN in "resources": EventBridge User
Guide, "Creating a rule that runs on a schedule"), or the target's constant Input if it has one.

What it does not do: cron expressions (logged once, never run), targets other than Lambda
functions, EventBridge's own retries of a failed delivery, and the rule's first run at a random
point of its period (here: one period after the rule is first seen). `every` (`inventory local
start --schedule-every`, for tests and demos) runs every rate rule at that period instead of its
own.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory_cli.local.seam.events import ScheduledRule

logger = logging.getLogger(__name__)

# `inventory local start --schedule-every SECONDS` reaches the server process through this.
SCHEDULE_EVERY_ENV = "INVENTORY_LOCAL_SCHEDULE_EVERY"
TICK_S = 1.0
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of `rate(N unit)`, or None for anything else (cron, or not valid)."""
    match = _RATE.match(expression.strip())
    if match is None or int(match.group(1)) < 1:
        return None
    return float(int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")])


def scheduled_event(rule: ScheduledRule, now: datetime) -> str:
    return json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": rule.account_id,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": rule.region,
        "resources": [rule.arn], "detail": {}})


class Scheduler:
    """Runs due rules' targets; `run_due` is one pass, `start` runs passes on a thread."""

    def __init__(self, rules: Callable[[], list[ScheduledRule]],
                 invoke: Callable[[ScheduledRule, str, str], bool], *,
                 every: float | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._rules, self._invoke = rules, invoke
        self._every, self._clock, self._wall = every, clock, wall
        # rule ARN -> (its expression, when it is next due)
        self._due: dict[str, tuple[str, float]] = {}
        self._unsupported: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self) -> int:
        """Invoke the targets of every rule that is due; how many invocations were started."""
        now = self._clock()
        started = 0
        current = self._rules()
        for gone in set(self._due) - {r.arn for r in current}:
            del self._due[gone]
        for rule in current:
            period = rate_seconds(rule.schedule)
            if period is None:
                if rule.arn not in self._unsupported:
                    self._unsupported.add(rule.arn)
                    logger.warning("rule %s: %r is not run by the emulator (rate(...) only)",
                                   rule.name, rule.schedule)
                continue
            period = self._every or period
            expression, due = self._due.get(rule.arn, ("", 0.0))
            if expression != rule.schedule:  # new, or its schedule changed
                self._due[rule.arn] = (rule.schedule, now + period)
                continue
            if now < due:
                continue
            # No catching up after a pause: the next run is one period from now.
            self._due[rule.arn] = (rule.schedule, max(due + period, now))
            for _target_id, arn, constant in rule.targets:
                event = constant if constant is not None else scheduled_event(rule, self._wall())
                if self._invoke(rule, arn, event):
                    started += 1
        return started

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(TICK_S):
                try:
                    self.run_due()
                except Exception:  # one bad pass must not end the scheduler
                    logger.exception("scheduler pass failed")

        self._thread = threading.Thread(target=loop, name="eventbridge-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def every_from_env(raw: str) -> float | None:
    """The `--schedule-every` override in seconds, or None (each rule's own rate)."""
    try:
        value = float(raw.strip()) if raw.strip() else 0.0
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; rules run at their own rate",
                       SCHEDULE_EVERY_ENV, raw)
        return None
    return value if value > 0 else None
