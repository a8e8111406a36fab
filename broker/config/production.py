"""What production refuses: secrets published in the repository, placeholders, and private
key files open to other users.
"""

from __future__ import annotations

import re
from pathlib import Path

# Every secret_key written in the repository (demo, examples, compose, tests): anyone can read
# them, so production refuses them (tests/test_config.py checks this list against the files).
PUBLISHED_SECRET_KEYS = frozenset({
    "demo-only-secret-key-change-me-in-any-real-deployment",
    "change-me-to-a-long-random-value-from-your-secret-store",
    "compose-stack-only-secret-key-change-me-000000",
    "test-secret-key-that-is-long-enough-000",
})


# What a placeholder client secret looks like (config/example.yaml's `change-me` among them):
# production refuses them, since a council app's secret is what lets it redeem a resident's code.
# The compose stack's demo client keeps its published secret: the demo council app, built into
# the stack, has it too.
PUBLISHED_CLIENT_SECRETS = frozenset({"change-me", "conformance-basic-secret"})
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "changethis", "placeholder", "yoursecret")
_PLACEHOLDERS = frozenset({"secret", "clientsecret", "password", "todo", "example", "test",
                           "none", "null", "default"})


def placeholder_secret(secret: str) -> bool:
    letters = re.sub(r"[^a-z0-9]", "", secret.lower())
    return (secret in PUBLISHED_CLIENT_SECRETS or letters in _PLACEHOLDERS
            or any(word in letters for word in _PLACEHOLDER_WORDS) or set(letters) == {"x"})


def loose_permissions(path: Path) -> str | None:
    """Why a private key file is open to other users, or None. As PostgreSQL asks of its key: no
    more than 0600, or 0640 when root owns the file (the broker reading it through its group)."""
    status = path.stat()
    mode = status.st_mode & 0o777
    if not mode & 0o077 or (status.st_uid == 0 and not mode & 0o037):
        return None
    return (f"{path} is open to other users (mode {mode:04o}): make it 0600, owned by the "
            "broker's user (or 0640, owned by root and the broker's group)")
