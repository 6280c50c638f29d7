"""intake.pipeline.record_once, the one path both sources take, driven with plain tasks (no folder, no mailbox)."""

from __future__ import annotations

from core.errors import RetryLater
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import pytest

from intake.pipeline.record_once import How, record_once
from intake.pipeline.task import SubmissionTask
from tests.configs import add_config, end_backoff, services_of

REF = "test:item-1"


@pytest.fixture
def services(workdir):
    # A backoff no test outlasts, however loaded the machine: where one must end, end_backoff ends it.
    add_config(workdir, "processing:\n  max_attempts: 2\n  retry_seconds: 600\n")
    return services_of(workdir)


def task_of(ref: str = REF, title: str = "作品") -> SubmissionTask:
    return SubmissionTask(source="cli", source_ref=ref, received_at=datetime.now(timezone.utc), title=title)


@dataclass
class Item:
    """A source item made of plain functions: what the folder and the mailbox each implement."""

    build: Callable
    ref: str = REF
    identity: Callable = lambda: task_of(title="身份")
    recorded_before: Callable = lambda task: None
    triage: Callable = lambda exc: exc
    finish: Callable = lambda done: done
    arrival = ()


def take(services, build, **hooks):
    return record_once(Item(build, **hooks), services)


def test_an_item_is_processed_once_and_then_only_finished(services):
    built = []

    def build(work):
        built.append(work)
        return task_of()

    first = take(services, build)
    again = take(services, build)
    assert first.how is How.PROCESSED and not first.resumed and first.task.outcome.value == "rejected"
    assert (again.how, again.submission_id, again.task) == (How.EARLIER, first.submission_id, None) and again.resumed
    assert len(built) == 1 and not built[0].exists()   # the work folder is gone


def test_a_failing_item_backs_off_then_is_recorded_by_its_identity(services):
    def build(work):
        raise RuntimeError("a bug this item triggers")

    with pytest.raises(RetryLater) as failed:
        take(services, build)
    assert failed.value.attempts == 1 and isinstance(failed.value.cause, RuntimeError)
    with pytest.raises(RetryLater) as waiting:
        take(services, build)   # still backing off: not built again
    assert waiting.value.cause is None

    end_backoff(services.db, REF)
    done = take(services, build)   # due again: built a second time, and with two attempts it gives up
    assert done.how is How.GAVE_UP and done.task.title == "身份"
    [check] = done.task.checks
    assert (check.check_id, check.code) == ("processing_error", "processing_error") and "共尝试 2 次" in check.message
    assert services.db.claims.failing_items() == []


def test_what_triage_rejects_is_not_counted(services):
    def build(work):
        raise FileNotFoundError("gone")

    def triage(exc):
        raise exc

    with pytest.raises(FileNotFoundError):
        take(services, build, triage=triage)
    assert services.db.claims.failing_items() == []


def test_an_item_recorded_under_another_ref_is_not_recorded_again(services):
    earlier = take(services, lambda work: task_of())
    other = record_once(Item(lambda work: task_of("test:item-2"), "test:item-2", identity=task_of,
                             recorded_before=lambda task: earlier.submission_id), services)
    assert other.how is How.SAME_AS and other.submission_id == earlier.submission_id and other.resumed
    assert services.db.submissions.id_for_ref("test:item-2") is None


def test_an_item_another_worker_holds_is_left_alone(services):
    assert services.db.claims.claim(REF, "someone-else", 600)
    try:
        assert take(services, lambda work: pytest.fail("built while claimed")) is None
    finally:
        services.db.claims.release(REF, "someone-else")
