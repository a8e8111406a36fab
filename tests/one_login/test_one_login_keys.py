"""`broker keys … one-login-client`: the broker's private_key_jwt key at One Login rotates like
the others, and /onelogin/jwks.json publishes every configured key while one signs."""

from __future__ import annotations

import pytest

from broker.config import load_config
from broker.one_login.client_auth import public_jwks, signing_key
from broker.operations.keys import KeyCommandError, KeyManager
from tests.one_login.test_one_login_config import one_login
from tests.operators.conftest import run_cli


@pytest.fixture
def one_login_config(operator_config, keys):
    return operator_config(upstream={"kind": "one_login"}, one_login=one_login(keys))


def published(path) -> list[str]:
    return [key["kid"] for key in public_jwks(load_config(path, environ={}).one_login)["keys"]]


def signer(path) -> str:
    return signing_key(load_config(path, environ={}).one_login).kid


def manager(path) -> KeyManager:
    return KeyManager(path, operator="test-operator", environ={})


def test_a_whole_rotation_of_the_one_login_client_key(one_login_config):
    path = one_login_config
    old = signer(path)
    manager(path).generate("one-login-client")
    [new] = [kid for kid in published(path) if kid != old]
    assert signer(path) == old  # published first, so One Login can fetch it before it is used
    manager(path).rotate("one-login-client")
    assert signer(path) == new and set(published(path)) == {old, new}
    manager(path).retire("one-login-client")
    assert published(path) == [new]


def test_list_shows_the_one_login_client_key(one_login_config):
    result = run_cli("keys", "list", str(one_login_config))
    assert result.returncode == 0, result.stderr
    assert any(row.startswith("one-login-client") and "signs One Login client assertions" in row
               for row in result.stdout.splitlines())


def test_rotating_without_a_one_login_section_is_refused_in_one_line(operator_config):
    with pytest.raises(KeyCommandError, match="one_login.signing_keys: no One Login section"):
        manager(operator_config()).generate("one-login-client")
