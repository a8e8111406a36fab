"""Every `broker` command and sub-command answers `--help` (and exits 0) without a configuration."""

from __future__ import annotations

import argparse

import pytest

from broker.cli import build_parser
from tests.operators.conftest import run_cli


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from command_paths(sub, (*prefix, name))


ALL_COMMANDS = sorted(command_paths(build_parser()))


def test_the_operator_commands_the_issue_names_all_exist():
    assert {("check-config",), ("sp-metadata",), ("serve",), ("metadata", "status"),
            ("metadata", "refresh"), ("keys", "generate"), ("keys", "list"), ("keys", "rotate"),
            ("keys", "retire"), ("clients", "list"), ("clients", "show"), ("links", "show"),
            ("links", "unlink"), ("db", "upgrade")} <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*path, "--help"])
    assert exit_.value.code == 0
    assert f"usage: broker {' '.join(path)}" in capsys.readouterr().out


def test_help_works_from_the_installed_command_without_any_configuration():
    result = run_cli("keys", "rotate", "--help")
    assert result.returncode == 0 and "saml-signing" in result.stdout


def test_a_command_without_a_configuration_says_which_variable_to_set():
    result = run_cli("clients", "list")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "broker: configuration error: (environment): BROKER_CONFIG: not set: name the YAML file to load"]
