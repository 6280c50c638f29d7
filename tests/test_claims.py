"""Claims (storage/claims.py): one worker holds a source at a time; a lease runs out; a dead local
worker's claim is taken over at once; only the holder releases."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from intake.config import load_config
from intake.pipeline.services import open_database
from storage.writers import worker_id

REF = "folder:作品.mp4:1:2:3"
LEASE = 600


@pytest.fixture
def db(workdir, backend):
    database = open_database(load_config())
    try:
        yield database
    finally:
        database.engine.dispose()


def dead_local_worker() -> str:
    """The id a worker on this host had, whose process has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    assert proc.wait(30) == 0
    return f"{socket.gethostname()}:{proc.pid}"


def test_first_claim_wins_and_the_holder_may_claim_again(db):
    assert db.claims.claim(REF, "h1:100", LEASE)
    assert not db.claims.claim(REF, "h2:200", LEASE)
    assert db.claims.claim("mail:1:2", "h2:200", LEASE)        # another source is free
    assert not db.claims.claim(REF, "h1:100", LEASE)            # not re-entrant: a second claim by its holder waits too


def test_release_by_the_holder_frees_the_source(db):
    assert db.claims.claim(REF, "h1:100", LEASE)
    db.claims.release(REF, "h2:200")                            # not the holder: nothing happens
    assert not db.claims.claim(REF, "h2:200", LEASE)
    db.claims.release(REF, "h1:100")
    assert db.claims.claim(REF, "h2:200", LEASE)


def test_an_expired_lease_is_taken_over_by_one_worker(db):
    assert db.claims.claim(REF, "otherhost:100", -1)            # its lease ran out already
    assert db.claims.claim(REF, "h2:200", LEASE)
    assert not db.claims.claim(REF, "h3:300", LEASE)            # the new lease holds
    db.claims.release(REF, "otherhost:100")                     # the old holder's late release frees nothing
    assert not db.claims.claim(REF, "h3:300", LEASE)


def test_a_live_lease_on_another_host_is_respected(db):
    assert db.claims.claim(REF, "otherhost:1", LEASE)           # pid 1 may be alive here, but not that host's
    assert not db.claims.claim(REF, worker_id(), LEASE)


def test_a_dead_local_workers_claim_is_taken_over_at_once(db):
    dead = dead_local_worker()
    assert db.claims.claim(REF, dead, LEASE)
    assert db.claims.claim(REF, worker_id(), LEASE)


def test_a_live_local_workers_claim_is_kept(db):
    me = worker_id()
    assert me == f"{socket.gethostname()}:{os.getpid()}"
    assert db.claims.claim(REF, me, LEASE)
    assert not db.claims.claim(REF, f"{socket.gethostname()}:not-a-pid", LEASE)
    assert not db.claims.claim(REF, "otherhost:2", LEASE)
