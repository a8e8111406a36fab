"""docs/operations.md, followed as a newcomer would: the council app it shows how to add is
accepted by the real commands, and its key rotation runbook, run line by line, rotates the key."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from broker.cli import build_parser
from broker.oidc.keys import SigningKeys
from tests.operators.conftest import ROOT, run_cli

GUIDE = (ROOT / "docs" / "operations.md").read_text()
DOCUMENTED_CONFIG = "/etc/broker/broker.yaml"


def section(heading: str) -> str:
    start = GUIDE.index(f"\n## {heading}\n")
    end = GUIDE.find("\n## ", start + 1)
    return GUIDE[start:end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return [textwrap_dedent(block) for block in re.findall(rf"```{language}\n(.*?)```", text, re.S)]


def textwrap_dedent(block: str) -> str:
    import textwrap

    return textwrap.dedent(block)


def broker_lines(block: str) -> list[list[str]]:
    """Each `broker …` line of a shell block as arguments, without the `broker` and comments."""
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("broker "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_guide_is_linked_from_the_readme():
    assert "docs/operations.md" in (ROOT / "README.md").read_text()


def test_the_council_app_the_guide_adds_passes_check_config_and_shows_up(operator_config):
    snippet = yaml.safe_load(blocks(section("Adding a council and its app"), "yaml")[0])
    [(council_id, council)] = snippet["councils"].items()
    [client] = snippet["clients"]
    path = operator_config(**{f"councils.{council_id}": council})
    data = yaml.safe_load(path.read_text())
    data["clients"].append(client)
    path.write_text(yaml.safe_dump(data))
    secret = subprocess.run(["python3", "-c", "import secrets; print(secrets.token_urlsafe(32))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    env = {"NORTH_BOROUGH_COUNCIL_TAX_SECRET": secret}

    checked = run_cli("check-config", str(path), env=env)
    assert checked.returncode == 0, checked.stderr
    shown = run_cli("clients", "show", client["client_id"], str(path), env=env)
    assert shown.returncode == 0, shown.stderr
    assert client["redirect_uris"][0] in shown.stdout
    assert f"subjects pairwise to {council['entity_id']}" in shown.stdout
    assert secret not in shown.stdout
    assert client["client_id"] in run_cli("clients", "list", str(path), env=env).stdout


def test_the_guides_council_app_without_its_secret_in_the_environment_is_refused(operator_config):
    snippet = yaml.safe_load(blocks(section("Adding a council and its app"), "yaml")[0])
    path = operator_config(**{"councils.north-borough": snippet["councils"]["north-borough"],
                              "clients": snippet["clients"]})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert ("clients[0].client_secret: environment variable NORTH_BOROUGH_COUNCIL_TAX_SECRET "
            "is not set") in result.stderr


@pytest.mark.parametrize("kind", ["oidc-es256", "saml-signing", "saml-encryption", "data"])
def test_the_rotation_runbook_run_line_by_line_rotates_the_key(operator_config, kind):
    path = operator_config()
    [runbook] = [b for b in blocks(section("Key rotation runbook"), "sh") if "keys rotate" in b]
    steps = broker_lines(runbook.replace("oidc-es256", kind).replace(DOCUMENTED_CONFIG, str(path)))
    assert [step[:2] for step in steps] == [["keys", "generate"], ["keys", "rotate"],
                                            ["keys", "retire"], ["keys", "list"]]
    before = key_ids(run_cli("keys", "list", str(path)).stdout, kind)
    for step in steps:
        result = run_cli(*step)
        assert result.returncode == 0, (step, result.stderr)
    after = key_ids(result.stdout, kind)
    assert len(after) == 1 and not set(after) & set(before)


def key_ids(listing: str, kind: str) -> list[str]:
    """The ID column of `broker keys list` for one kind."""
    return [row[50:96].strip() for row in listing.splitlines() if row.startswith(f"{kind} ")]


def test_the_first_installation_commands_write_the_key_files(tmp_path):
    install = section("Installing")
    [block] = [b for b in blocks(install, "sh") if "--out" in b]
    for step in broker_lines(block.replace("/etc/broker/keys", str(tmp_path / "keys"))):
        result = run_cli(*step)
        assert result.returncode == 0, (step, result.stderr)
    assert {p.name for p in (tmp_path / "keys").iterdir()} == {
        "saml-signing.key", "saml-signing.crt", "saml-encryption.key", "saml-encryption.crt",
        "oidc-signing-es256.jwk.json", "oidc-signing-rs256.jwk.json", "data-key.jwk.json"}


def test_every_broker_command_the_guide_names_exists():
    parser = build_parser()
    commands = set()
    for match in re.finditer(r"`broker ([a-z-]+)(?: ([a-z|\\]+))?", GUIDE):
        first, second = match.group(1), match.group(2)
        for sub in (second.replace("\\", "").split("|") if second else [None]):
            commands.add((first, sub))
    assert ("keys", "rotate") in commands and ("check-config", None) in commands
    for first, sub in sorted(commands, key=str):
        args = [first] + ([sub] if sub else [])
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([*args, "--help"])
        assert exit_.value.code == 0, args


def test_the_metrics_the_guide_describes_are_the_ones_the_broker_exports():
    from broker import observability

    # The broker's own metrics, and each upstream plug-in's present-state gauges.
    sources = [ROOT / "broker" / "observability.py", *(ROOT / "broker").glob("*/upstream.py")]
    exported = {name for path in sources
                for name in re.findall(r'"(broker_[a-z_]+)"', path.read_text())}
    described = set(re.findall(r"^\| `(broker_[a-z_]+)`", section("Metrics and alerts"), re.M))
    assert described == exported
    assert observability.SIGNINS_STARTED  # the module the table describes


def test_the_key_kinds_in_the_runbook_table_are_the_commands_kinds():
    from broker.operations.keys import KINDS

    table = section("Key rotation runbook")
    assert all(f"`{kind}`" in table for kind in KINDS)
    assert SigningKeys  # the OIDC JWKS the runbook's waits are about


def test_the_stub_hub_section_run_line_by_line_serves_metadata_the_broker_trusts(operator_config,
                                                                                 tmp_path):
    import requests

    from tests.conftest import free_port
    from tests.reliability.conftest import wait_until

    port, keys = free_port(), tmp_path / "practice-keys"
    text = section("The stub hub on its own")
    [hub_section] = blocks(text, "yaml")
    hub = yaml.safe_load(hub_section.replace("var/practice-keys", str(keys))
                         .replace("8001", str(port)))["hub"]
    path = operator_config(**{"hub.metadata_file": None,
                              **{f"hub.{key}": value for key, value in hub.items()}})
    [block] = blocks(text, "sh")
    steps = broker_lines(block.replace("var/practice-keys", str(keys))
                         .replace("practice.yaml", str(path)).replace("8001", str(port)))
    assert [step[0] for step in steps] == ["dev-keys", "stub-hub"]
    assert run_cli(*steps[0]).returncode == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    hub = subprocess.Popen([sys.executable, "-m", "broker.cli", *steps[1]], cwd=ROOT, env=environ,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: requests.get(f"http://localhost:{port}/saml/metadata", timeout=2).ok,
                   30, "the stub hub to serve its metadata")
        result = run_cli("check-config", str(path))
        assert result.returncode == 0, result.stderr
    finally:
        hub.terminate()
        hub.wait(timeout=10)


def test_the_guide_names_the_log_event_a_refused_reload_writes():
    """tests/reliability/test_serve_as_documented.py sends SIGHUP with a bad file and finds it."""
    configuring = section("Configuring")
    assert "SIGHUP" in configuring and "`config.reload-refused`" in configuring


def test_the_readmes_prerequisites_name_everything_make_demo_runs():
    readme = (ROOT / "README.md").read_text()
    prerequisites = readme.split("## Quick start", 1)[1].split("```", 1)[0]
    makefile = (ROOT / "Makefile").read_text()
    for tool, needed_by in (("Python", "python"), ("make", ""), ("Node.js", "npm"),
                            ("npm", "npm ")):
        assert needed_by in makefile
        assert tool in prerequisites, f"README's quick start does not say {tool} is needed"


def test_the_guide_says_sighup_does_not_read_the_environment_again():
    reload = GUIDE.split("**Reload (SIGHUP).**", 1)[1].split("\n\n", 1)[0]
    assert "takes effect only at a restart" in reload
