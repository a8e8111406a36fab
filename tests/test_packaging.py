"""What ships around the code: docker-compose, the CI entry point, the Makefile."""

from __future__ import annotations

from pathlib import Path

import yaml

from broker.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def cli_commands() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices)


def test_docker_compose_parses_and_every_broker_command_exists():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"broker-1", "broker-2", "nginx", "redis", "postgres", "stub-hub",
            "council-app"} <= set(services)
    for name, service in services.items():
        command = service.get("command")
        assert command, f"service {name} has no command"
        if command[0] == "broker":
            assert command[1] in cli_commands(), f"{name}: no `broker {command[1]}` command"
            build_parser().parse_args(command[1:])  # the arguments exist too (exits if not)
        build = service.get("build")
        if isinstance(build, dict):
            dockerfile = (ROOT / build["context"] / "Dockerfile").read_text()
            assert f" AS {build['target']}\n" in dockerfile, f"{name}: no stage {build['target']}"
        elif build:
            assert (ROOT / build / "Dockerfile").exists()


def test_ci_runs_make_test_and_nothing_else():
    lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    commands = [line for line in lines if not line.startswith(("set ", "cd "))]
    assert commands == ["exec make test"]


def test_makefile_has_the_two_newcomer_targets():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_nginx_fronts_both_broker_instances_with_tls():
    """More about the stack (URLs, certificate, config) in tests/operators/test_deployment.py."""
    conf = (ROOT / "deploy" / "nginx" / "broker.conf").read_text()
    assert "server broker-1:8000" in conf and "server broker-2:8000" in conf
    assert "listen 8443 ssl" in conf
