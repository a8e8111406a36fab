"""A worker's first sign-ins arrive on several threads at once; the schema check must survive it.

libxml2 sets up its built-in schema types on the first schema compilation. Two threads doing
that at once broke the whole process: every later compilation and validation failed with
"xmlSchemaPValAttrNodeValue, the given type is not a built-in type", so that worker rejected
every Response until restarted (found by the benchmark's concurrent warm-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

COLD_START = """
import sys, threading
sys.path.insert(0, {root!r})
from broker.hub.saml_schema import verify_protocol_schema
from lxml import etree
errors, barrier = [], threading.Barrier(16)
def first_sign_in():
    barrier.wait()
    try:
        verify_protocol_schema()
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=first_sign_in) for _ in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
status = etree.fromstring(b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode '
    b'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>')
assert verify_protocol_schema().validate(status), "a valid Response no longer validates"
assert not errors, errors[0]
"""


def test_sixteen_threads_compiling_the_schema_at_once_leave_it_usable():
    for _ in range(10):  # the race, unguarded, broke about one cold start in ten here
        result = subprocess.run([sys.executable, "-c", COLD_START.format(root=str(ROOT))],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]


def test_only_one_thread_at_a_time_compiles_the_schema(monkeypatch):
    """Deterministic where the cold start above is only likely to catch the race."""
    import threading
    import time

    from broker.hub import saml_schema

    inside, most, compiled = [0], [0], []
    real_schema = saml_schema.etree.XMLSchema
    guard = threading.Lock()

    def slow_schema(*args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        try:
            schema = real_schema(*args, **kwargs)
            compiled.append(schema)
            return schema
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(saml_schema.etree, "XMLSchema", slow_schema)
    saml_schema._compile_protocol_schema.cache_clear()
    try:
        threads = [threading.Thread(target=saml_schema.verify_protocol_schema) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        monkeypatch.undo()
        saml_schema._compile_protocol_schema.cache_clear()
        saml_schema.verify_protocol_schema()
    assert most[0] == 1 and len(compiled) == 1


def test_the_app_compiles_the_schema_before_serving(stack):
    from broker.app import create_app
    from broker.hub.saml_schema import _compile_protocol_schema

    _compile_protocol_schema.cache_clear()
    create_app(stack.config)
    assert _compile_protocol_schema.cache_info().currsize == 1
