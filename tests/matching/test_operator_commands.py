"""`broker db upgrade` and `broker links show|unlink`: what operators run, each audited."""

from __future__ import annotations

from broker.cli import main
from broker.identity import LevelOfAssurance
from broker.matching.database import current_revision, make_engine
from broker.matching.links import LinkStore
from tests.conftest import Ports, write_config

PORTS = Ports(18000, 18001, 18002)
PID = "d" * 64


def config_path(tmp_path, keys_dir, database_url):
    return str(write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:",
                            database={"url": database_url}))


def upgraded(tmp_path, keys_dir, database_url) -> tuple[str, LinkStore]:
    path = config_path(tmp_path, keys_dir, database_url)
    assert main(["db", "upgrade", path]) == 0
    return path, LinkStore(make_engine(database_url))


def test_db_upgrade_creates_the_schema(tmp_path, keys_dir, database_url, capsys):
    path = config_path(tmp_path, keys_dir, database_url)
    assert main(["db", "upgrade", path]) == 0
    assert current_revision(make_engine(database_url)) == "0002"
    assert "revision 0002" in capsys.readouterr().out


def test_links_show_prints_a_dash_for_a_link_without_an_account_id(tmp_path, keys_dir,
                                                                   database_url, capsys):
    path, store = upgraded(tmp_path, keys_dir, database_url)
    store.link("test-borough", PID, None, LevelOfAssurance.LEVEL_2)
    assert main(["links", "show", path, "--council", "test-borough", "--operator", "ops"]) == 0
    assert f"test-borough\t-\t{PID}\tLEVEL_2" in capsys.readouterr().out


def test_links_show_prints_the_councils_links_and_is_audited(tmp_path, keys_dir, database_url,
                                                             capsys):
    path, store = upgraded(tmp_path, keys_dir, database_url)
    store.link("test-borough", PID, "TB-1", LevelOfAssurance.LEVEL_2)
    assert main(["links", "show", path, "--council", "test-borough", "--operator", "ops"]) == 0
    assert f"test-borough\tTB-1\t{PID}\tLEVEL_2" in capsys.readouterr().out
    assert [(e.actor, e.action) for e in store.audit_events()] == [("ops", "links-show")]


def test_links_unlink_by_account_removes_the_link_and_is_audited(tmp_path, keys_dir,
                                                                 database_url):
    path, store = upgraded(tmp_path, keys_dir, database_url)
    store.link("test-borough", PID, "TB-1", LevelOfAssurance.LEVEL_2)
    assert main(["links", "unlink", path, "--council", "test-borough", "--account", "TB-1",
                 "--operator", "ops"]) == 0
    assert store.find("test-borough") == []
    assert [(e.actor, e.action) for e in store.audit_events()] == [("ops", "links-unlink")]


def test_links_unlink_by_hashed_pid_removes_the_link(tmp_path, keys_dir, database_url):
    path, store = upgraded(tmp_path, keys_dir, database_url)
    store.link("test-borough", PID, "TB-1", LevelOfAssurance.LEVEL_2)
    assert main(["links", "unlink", path, "--council", "test-borough", "--hashed-pid", PID]) == 0
    assert store.seen("test-borough", PID) is None


def test_links_unlink_without_account_or_pid_is_refused(tmp_path, keys_dir, database_url):
    path, store = upgraded(tmp_path, keys_dir, database_url)
    store.link("test-borough", PID, "TB-1", LevelOfAssurance.LEVEL_2)
    assert main(["links", "unlink", path, "--council", "test-borough"]) == 2
    assert len(store.find("test-borough")) == 1


def test_links_for_an_unknown_council_are_refused(tmp_path, keys_dir, database_url):
    path, _store = upgraded(tmp_path, keys_dir, database_url)
    assert main(["links", "show", path, "--council", "nowhere"]) == 2
