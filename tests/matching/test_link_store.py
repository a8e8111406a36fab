"""The link store, on SQLite and on a real PostgreSQL (every test runs on both)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import inspect

from broker.identity import LevelOfAssurance
from broker.matching.database import current_revision, make_engine, upgrade
from broker.matching.links import LinkStore

PID = "a" * 64
OTHER_PID = "b" * 64
L2 = LevelOfAssurance.LEVEL_2


def test_migrations_bring_an_empty_database_to_the_latest_revision(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    assert current_revision(engine) == "0002"
    assert {"account_links", "audit_events"} <= set(inspect(engine).get_table_names())


def test_migrating_twice_changes_nothing(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == "0002"


def test_upgrading_a_0001_database_keeps_its_links_and_their_uniqueness(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    LinkStore(engine).link("test-borough", PID, "ACC-1", L2)
    upgrade(engine)
    store = LinkStore(engine)
    assert store.seen("test-borough", PID).local_account_id == "ACC-1"
    link, created = store.link("test-borough", PID, None, L2)
    assert (created, link.local_account_id) == (False, "ACC-1")
    assert {index["name"] for index in inspect(engine).get_indexes("account_links")} >= {
        "ix_account_links_council_account"}


def test_a_link_needs_no_local_account_id(link_store):
    """Verify's services answer a bare match: the link is the council and the hashed PID."""
    link, created = link_store.link("test-borough", PID, None, L2)
    assert created and link.local_account_id is None
    assert link_store.seen("test-borough", PID).hashed_pid == PID


def test_a_second_link_without_an_account_id_is_still_refused(link_store):
    link_store.link("test-borough", PID, None, L2)
    _link, created = link_store.link("test-borough", PID, None, L2)
    assert not created
    assert len(link_store.find("test-borough")) == 1


def test_unknown_person_has_no_link(link_store):
    assert link_store.seen("test-borough", PID) is None


def test_link_records_account_level_and_times(link_store):
    link, created = link_store.link("test-borough", PID, "ACC-1", L2)
    assert created
    assert (link.local_account_id, link.level_of_assurance) == ("ACC-1", L2)
    assert link.created_at == link.last_seen_at


def test_seen_returns_the_link_and_touches_last_seen(link_store):
    first, _ = link_store.link("test-borough", PID, "ACC-1", L2)
    time.sleep(0.01)
    seen = link_store.seen("test-borough", PID)
    assert seen.local_account_id == "ACC-1"
    assert seen.last_seen_at > first.last_seen_at
    assert seen.created_at == first.created_at


def test_second_link_for_the_same_person_keeps_the_first(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    link, created = link_store.link("test-borough", PID, "ACC-2", L2)
    assert not created
    assert link.local_account_id == "ACC-1"
    assert len(link_store.find("test-borough")) == 1


def test_links_are_per_council(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    link_store.link("other-borough", PID, "OTHER-9", L2)
    assert link_store.seen("test-borough", PID).local_account_id == "ACC-1"
    assert link_store.seen("other-borough", PID).local_account_id == "OTHER-9"


def test_concurrent_links_for_the_same_person_make_one_link(link_store):
    results, barrier = [], threading.Barrier(8)

    def sign_in(n: int):
        barrier.wait()
        results.append(link_store.link("test-borough", PID, f"ACC-{n}", L2))

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(link_store.find("test-borough")) == 1
    assert sum(created for _, created in results) == 1
    assert len({link.local_account_id for link, _ in results}) == 1


def test_unlink_by_local_account_removes_only_that_link(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    link_store.link("test-borough", OTHER_PID, "ACC-2", L2)
    removed = link_store.unlink("operator", "test-borough", local_account_id="ACC-1")
    assert [link.hashed_pid for link in removed] == [PID]
    assert [link.local_account_id for link in link_store.find("test-borough")] == ["ACC-2"]


def test_unlink_by_hashed_pid_makes_the_next_sign_in_unmatched(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    link_store.unlink("operator", "test-borough", hashed_pid=PID)
    assert link_store.seen("test-borough", PID) is None


def test_unlink_leaves_an_audit_event_without_the_full_hashed_pid(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    link_store.unlink("alice", "test-borough", hashed_pid=PID)
    [event] = link_store.audit_events("test-borough")
    assert (event.actor, event.action, event.local_account_id) == ("alice", "links-unlink", "ACC-1")
    assert event.hashed_pid_prefix == PID[:8]


def test_unlink_that_matches_nothing_is_still_audited(link_store):
    assert link_store.unlink("alice", "test-borough", local_account_id="NOPE") == []
    [event] = link_store.audit_events("test-borough")
    assert event.detail == "no link matched"


def test_show_leaves_an_audit_event(link_store):
    link_store.link("test-borough", PID, "ACC-1", L2)
    shown = link_store.show("bob", "test-borough", local_account_id="ACC-1")
    assert [link.hashed_pid for link in shown] == [PID]
    [event] = link_store.audit_events("test-borough")
    assert (event.actor, event.action) == ("bob", "links-show")
