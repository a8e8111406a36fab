"""`broker keys generate|list|rotate|retire`: key rotation without downtime (see ADR 0006).

Every kind of key has at most two published keys: the one in use and one other. The three
commands move a rotation one step each and edit the configuration file in place (comments kept):

- `generate KIND` writes a new key beside the current one and publishes it without using it
  (saml.signing_next; a second saml.encryption pair, which decrypts at once; an OIDC key with
  `signs: false`; a data key with `encrypts: false`, which opens Redis values at once).
- `rotate KIND` swaps the two: the new key is used, the old one stays published. Running it again
  swaps back, which is the rollback.
- `retire KIND` stops publishing the key that is not in use.

The broker reads its configuration at start-up, so each step takes effect as each broker process
restarts; the waits between steps (docs/operations.md) let every process and every party that
caches our keys catch up. Each change is an audit event on the `broker.audit` logger and, in
the durable trail, a row of the link store's `audit_events` (broker/operations/audit_trail.py).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from broker.config import ConfigError, interpolate, load_config
from broker.operations.certs import certificate_info
from broker.operations.yamledit import edit_document, load_document

audit = logging.getLogger("broker.audit")

KINDS = ("saml-signing", "saml-encryption", "oidc-es256", "oidc-rs256", "data", "one-login-client")
ONE_LOGIN_KIND = "one-login-client"  # the broker's private_key_jwt key at GOV.UK One Login
KTY_FOR_KIND = {"oidc-es256": "EC", "oidc-rs256": "RSA"}
DEFAULT_CERT_DAYS = 365


class KeyCommandError(Exception):
    """A step that cannot be taken in the configuration's current state; names the key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


@dataclass(frozen=True)
class PublishedKey:
    """One row of `broker keys list`."""

    kind: str
    config_key: str
    file: str
    role: str  # what the broker does with it
    identifier: str  # certificate SHA-256 fingerprint (first 16 hex) or JWK kid
    expires: datetime | None

    def cells(self, now: datetime) -> tuple[str, ...]:
        expiry = (f"{self.expires:%Y-%m-%d} ({(self.expires - now).days} days)" if self.expires
                  else "no expiry (JWK)" if self.kind.startswith("oidc") else "no expiry")
        return self.kind, self.role, self.identifier, expiry, self.config_key


LIST_HEADINGS = ("KIND", "ROLE", "ID", "EXPIRES", "CONFIG KEY")


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns as wide as their longest cell, two spaces apart: no value runs into the next."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


class KeyFiles:
    """Resolves the paths written in the YAML (relative to it, possibly with ${NAME})."""

    def __init__(self, config_path: Path, environ: dict[str, str]):
        self.config_path, self.environ = config_path, environ

    def resolve(self, written: str) -> Path:
        return self.config_path.resolve().parent / interpolate(str(written), self.environ)

    def beside(self, written: str, suffix: str, stamp: str) -> tuple[str, Path]:
        """A new file name in the same directory as `written`, as YAML text and as a real path."""
        directory, _, name = str(written).rpartition("/")
        stem = name.split(".", 1)[0]
        for known in ("-next", "-previous"):
            stem = stem.removesuffix(known)
        new_name = f"{re.sub(r'-[0-9]{14}$', '', stem)}-{stamp}{suffix}"
        text = f"{directory}/{new_name}" if directory else new_name
        path = self.resolve(text)
        if path.exists():
            raise KeyCommandError("(files)", f"{path} already exists; not overwriting it")
        return text, path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def new_rsa_pair(common_name: str, days: int) -> tuple[str, str]:
    """An RSA-2048 key and a self-signed SHA-256 certificate, as PEM (the broker's SAML pairs:
    the hub learns them through the federation's certificate service, not by a chain)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def new_jwk(kind: str) -> dict[str, Any]:
    from joserfc.jwk import ECKey, RSAKey

    if kind == "oidc-es256":
        key = ECKey.generate_key("P-256", auto_kid=True, private=True)
        alg = "ES256"
    elif kind == ONE_LOGIN_KIND:  # One Login takes RS256 or PS256 client assertions: RSA keys
        key = RSAKey.generate_key(2048, auto_kid=True, private=True)
        return {**key.as_dict(private=True), "use": "sig"}
    else:
        key = RSAKey.generate_key(2048, auto_kid=True, private=True)
        alg = "RS256"
    return {**key.as_dict(private=True), "use": "sig", "alg": alg}


def _operator(given: str | None) -> str:
    if given:
        return given
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


class KeyManager:
    """The three rotation steps and the listing, for one configuration file."""

    def __init__(self, config_path: str | os.PathLike[str] | None, operator: str | None = None,
                 environ: dict[str, str] | None = None, days: int = DEFAULT_CERT_DAYS,
                 now: datetime | None = None):
        self.environ = dict(os.environ) if environ is None else environ
        path = config_path or self.environ.get("BROKER_CONFIG")
        if not path:
            raise ConfigError("(environment)", "BROKER_CONFIG", "not set: name the YAML file to load")
        self.path = Path(path)
        self.config = load_config(self.path, self.environ)  # refuse to edit a broken file
        self.files = KeyFiles(self.path, self.environ)
        self.operator = _operator(operator)
        self.days = days
        self.now = now or datetime.now(UTC)
        self.stamp = self.now.strftime("%Y%m%d%H%M%S")
        self._trail = None

    def open_audit_trail(self):
        """Before a change: a change the trail could not record is not made."""
        from broker.operations.audit_trail import AuditTrail

        self._trail = AuditTrail(self.config)
        return self._trail

    # Listing ---------------------------------------------------------------------------------

    def list(self) -> list[PublishedKey]:
        raw = interpolate(_plain(load_document(self.path)), self.environ)
        saml, oidc = raw.get("saml") or {}, raw["oidc"]  # no saml: One Login alone
        rows = []
        if saml:
            rows.append(self._cert_row("saml-signing", "saml.signing", saml["signing"],
                                       "signs; published"))
        if saml.get("signing_next"):
            rows.append(self._cert_row("saml-signing", "saml.signing_next", saml["signing_next"],
                                       "published, does not sign"))
        for i, pair in enumerate(saml.get("encryption") or []):
            role = "decrypts; published first" if i == 0 else "decrypts; published second"
            rows.append(self._cert_row("saml-encryption", f"saml.encryption[{i}]", pair, role))
        signers: set[str] = set()
        for i, item in enumerate(_oidc_items(oidc)):
            jwk = json.loads(self.files.resolve(item["file"]).read_text(encoding="utf-8"))
            kind = "oidc-es256" if jwk["kty"] == "EC" else "oidc-rs256"
            signs = item.get("signs", True) in (True, "true") and kind not in signers
            if signs:
                signers.add(kind)
            key = "oidc.signing_key" if "signing_key" in oidc else f"oidc.signing_keys[{i}]"
            rows.append(PublishedKey(kind, key, item["file"],
                                     "signs ID/logout tokens; in JWKS" if signs
                                     else "in JWKS, does not sign", _kid(jwk), None))
        for i, item in enumerate((raw.get("one_login") or {}).get("signing_keys") or []):
            jwk = json.loads(self.files.resolve(item["file"]).read_text(encoding="utf-8"))
            rows.append(PublishedKey(ONE_LOGIN_KIND, f"one_login.signing_keys[{i}]", item["file"],
                                     "signs One Login client assertions" if _signs(item)
                                     else "in /onelogin/jwks.json only", _kid(jwk), None))
        for i, data_key in enumerate(self.config.data_keys):
            rows.append(PublishedKey("data", f"data_keys[{i}]", "",
                                     "seals and opens Redis values" if data_key.encrypts
                                     else "opens Redis values, does not seal", data_key.id, None))
        return rows

    def _cert_row(self, kind: str, key: str, pair: dict[str, str], role: str) -> PublishedKey:
        info = certificate_info(self.files.resolve(pair["cert"]).read_text(encoding="utf-8"))
        return PublishedKey(kind, key, pair["cert"], role, f"sha256:{info.sha256[:16]}",
                            info.not_after)

    # The three steps -------------------------------------------------------------------------

    def generate(self, kind: str) -> list[str]:
        """Writes a new key beside the current one and publishes it without using it."""
        created: list[Path] = []
        messages: list[str] = []

        def change(doc: CommentedMap) -> None:
            saml = _saml_section(doc, kind)
            if kind == "data":
                self._generate_data_key(doc, created, messages)
            elif kind == "saml-signing":
                if saml.get("signing_next"):
                    raise KeyCommandError("saml.signing_next", "a second signing key is already "
                                          "published: finish that rotation (rotate, retire) first")
                pair = self._new_pair(saml["signing"], "signing", created)
                _insert_after(saml, "signing", "signing_next", pair)
                messages.append(f"published as saml.signing_next: {pair['cert']} (does not sign yet)")
            elif kind == "saml-encryption":
                if len(saml["encryption"]) >= 2:
                    raise KeyCommandError("saml.encryption", "two pairs are already published: "
                                          "retire one first (`broker keys retire saml-encryption`)")
                pair = self._new_pair(saml["encryption"][0], "encryption", created)
                saml["encryption"].append(pair)
                messages.append(f"published as saml.encryption[1]: {pair['cert']} (decrypts now)")
            else:
                items, same, where = self._jwk_items(doc, kind)
                if any(not _signs(item) for item in same):
                    raise KeyCommandError(where, f"a {kind} key that does not sign is "
                                          "already published: finish that rotation (rotate, retire) first")
                if same:
                    template = same[0]["file"]
                else:  # the first key of this algorithm: name it after its kind, beside the others
                    directory = items[0]["file"].rpartition("/")[0]
                    template = f"{directory}/oidc-signing-{kind[5:]}.jwk.json".lstrip("/")
                text, path = self.files.beside(template, ".jwk.json", self.stamp)
                jwk = new_jwk(kind)
                _write_private(path, json.dumps(jwk, indent=2))
                created.append(path)
                entry = CommentedMap([("file", text)])
                if same:
                    entry["signs"] = False
                    jwks = "One Login client JWKS" if kind == ONE_LOGIN_KIND else "JWKS"
                    messages.append(f"published in the {jwks}: {text} (kid {_kid(jwk)}, "
                                    "does not sign yet)")
                else:
                    messages.append(f"published and signing at once (no {kind} key signed before): "
                                    f"{text} (kid {_kid(jwk)})")
                items.append(entry)

        self._edit(change, created)
        self._audit("key.generated", kind, messages)
        return messages

    def rotate(self, kind: str) -> list[str]:
        """Swaps the key in use with the other published one (again: swaps back)."""
        messages: list[str] = []

        def change(doc: CommentedMap) -> None:
            saml = _saml_section(doc, kind)
            if kind == "data":
                items = doc.get("data_keys") or []
                current = [item for item in items if _encrypts(item)]
                others = [item for item in items if not _encrypts(item)]
                if len(current) != 1 or len(others) != 1:
                    raise KeyCommandError("data_keys", "rotation needs one data key that encrypts "
                                          "and one that does not: run `broker keys generate data`")
                new, old = others[0], current[0]
                new_id, old_id = self._data_key_id(new), self._data_key_id(old)
                _swap_data_keys(old, new)  # positions (and comments) stay; the keys move
                messages.append(f"data key {new_id} now seals; {old_id} still opens "
                                "(encrypts: false)")
            elif kind == "saml-signing":
                other = saml.get("signing_next")
                if not other or not other.get("key"):
                    raise KeyCommandError("saml.signing_next", "no other signing key (with `key` and "
                                          "`cert`) is published: run `broker keys generate saml-signing`")
                _swap_contents(saml["signing"], other)
                messages.append(f"saml.signing is now {saml['signing']['cert']}; the previous "
                                "certificate stays published as saml.signing_next")
            elif kind == "saml-encryption":
                pairs = saml["encryption"]
                if len(pairs) != 2:
                    raise KeyCommandError("saml.encryption", "only one pair is published: run "
                                          "`broker keys generate saml-encryption`")
                _swap_contents(pairs[0], pairs[1])
                messages.append(f"saml.encryption[0] is now {pairs[0]['cert']}; both pairs still decrypt")
            else:
                items, same, where = self._jwk_items(doc, kind)
                current = next((item for item in same if _signs(item)), None)
                others = [item for item in same if not _signs(item)]
                if current is None or len(others) != 1:
                    raise KeyCommandError(where, f"rotation needs one {kind} key that signs "
                                          f"and one that does not: run `broker keys generate {kind}`")
                new = others[0]
                new.pop("signs", None)
                current["signs"] = False
                items.remove(new)
                items.insert(items.index(current), new)
                messages.append(f"{new['file']} now signs; {current['file']} stays in the JWKS "
                                "with signs: false")

        self._edit(change, [])
        self._audit("key.rotated", kind, messages)
        return messages

    def retire(self, kind: str) -> list[str]:
        """Stops publishing the key that is not in use. Its files are left for the operator."""
        messages: list[str] = []

        def change(doc: CommentedMap) -> None:
            saml = _saml_section(doc, kind)
            if kind == "data":
                items = doc.get("data_keys") or []
                others = [item for item in items if not _encrypts(item)]
                if not others:
                    raise KeyCommandError("data_keys", "nothing to retire: every data key encrypts")
                for item in others:
                    key_id = self._data_key_id(item)
                    _remove_keeping_trailing_comment(items, item)
                    messages.append(f"data key {key_id} no longer opens anything: values it "
                                    "sealed now read as absent")
            elif kind == "saml-signing":
                if not saml.get("signing_next"):
                    raise KeyCommandError("saml.signing_next", "nothing to retire: only one signing "
                                          "key is published")
                gone = saml.pop("signing_next")
                messages.append(f"saml.signing_next ({gone['cert']}) is no longer published")
            elif kind == "saml-encryption":
                if len(saml["encryption"]) != 2:
                    raise KeyCommandError("saml.encryption", "nothing to retire: only one pair is "
                                          "published")
                gone = saml["encryption"].pop(1)
                messages.append(f"saml.encryption pair {gone['cert']} no longer decrypts or is published")
            else:
                items, same, where = self._jwk_items(doc, kind)
                others = [item for item in same if not _signs(item)]
                if not others:
                    raise KeyCommandError(where, f"nothing to retire: every {kind} key "
                                          "signs")
                for item in others:
                    items.remove(item)
                    messages.append(f"{item['file']} is no longer in the JWKS")
            messages.append("the key files are left in place: destroy them under your key policy")

        self._edit(change, [])
        self._audit("key.retired", kind, messages)
        return messages

    # Helpers ---------------------------------------------------------------------------------

    def _generate_data_key(self, doc: CommentedMap, created: list[Path],
                           messages: list[str]) -> None:
        from broker.sealing import DataKey, new_key_id

        items = doc.get("data_keys")
        if items and any(not _encrypts(item) for item in items):
            raise KeyCommandError("data_keys", "a data key that does not encrypt is already "
                                  "configured: finish that rotation (rotate, retire) first")
        files = [item["file"] for item in items or [] if item.get("file")]
        template = files[0] if files else (
            f"{str(doc['saml']['signing']['key']).rpartition('/')[0]}/data-key.jwk.json".lstrip("/"))
        text, path = self.files.beside(template, ".jwk.json", self.stamp)
        key = DataKey.generate(new_key_id(self.now))
        _write_private(path, json.dumps(key.to_jwk(), indent=2))
        created.append(path)
        entry = CommentedMap([("file", text)])
        if items:
            entry["encrypts"] = False
            _append_keeping_trailing_comment(items, entry)
            messages.append(f"data key {key.id} added: {text} (opens Redis values, does not seal "
                            "yet)")
        else:  # the first data key: nothing was sealed before, so it seals at once
            position = list(doc).index("secret_key") + 1 if "secret_key" in doc else len(doc)
            doc.insert(position, "data_keys", CommentedSeq([entry]))
            messages.append(f"data key {key.id} added and sealing at once (no data key before): "
                            f"{text}")

    def _data_key_id(self, item: CommentedMap) -> str:
        if item.get("file"):
            jwk = json.loads(self.files.resolve(item["file"]).read_text(encoding="utf-8"))
            return str(jwk.get("kid"))
        return str(item.get("id"))

    def _new_pair(self, current: CommentedMap, use: str, created: list[Path]) -> CommentedMap:
        key_text, key_path = self.files.beside(current["key"], ".key", self.stamp)
        cert_text, cert_path = self.files.beside(current["cert"], ".crt", self.stamp)
        name = self.config.saml.entity_id
        key_pem, cert_pem = new_rsa_pair(f"{name} SAML {use} {self.now:%Y-%m-%d}"[:64], self.days)
        _write_private(key_path, key_pem)
        created.append(key_path)
        cert_path.write_text(cert_pem, encoding="utf-8")
        created.append(cert_path)
        return CommentedMap([("key", key_text), ("cert", cert_text)])

    def _jwk_items(self, doc: CommentedMap, kind: str) -> tuple[CommentedSeq, list, str]:
        """The YAML list a JWK kind lives in, its keys of that kind, and the list's config key."""
        if kind == ONE_LOGIN_KIND:
            section = doc.get("one_login")
            if not section or not section.get("signing_keys"):
                raise KeyCommandError("one_login.signing_keys", "no One Login section: configure "
                                      "one_login first (docs/operations.md, One Login)")
            items = section["signing_keys"]
            return items, list(items), "one_login.signing_keys"
        items = _oidc_list(doc["oidc"])
        return items, [item for item in items if self._kind_of(item) == kind], "oidc.signing_keys"

    def _kind_of(self, item: CommentedMap) -> str:
        jwk = json.loads(self.files.resolve(item["file"]).read_text(encoding="utf-8"))
        return "oidc-es256" if jwk.get("kty") == "EC" else "oidc-rs256"

    def _edit(self, change, created: list[Path]) -> None:
        try:
            edit_document(self.path, change, self.environ)
        except BaseException:
            for path in created:  # a refused change leaves no stray key files behind
                path.unlink(missing_ok=True)
            raise

    def _audit(self, event: str, kind: str, messages: list[str]) -> None:
        audit.info("%s %s: %s", event, kind, "; ".join(messages), extra={
            "event": event, "key_kind": kind, "config": str(self.path), "operator": self.operator,
            "changes": messages})
        if self._trail is not None:
            self._trail.record(self.operator, event, f"{kind} in {self.path}: {'; '.join(messages)}")


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _saml_section(doc: CommentedMap, kind: str) -> CommentedMap | None:
    saml = doc.get("saml")
    if saml is None and kind.startswith("saml-"):
        raise KeyCommandError("saml", "no `saml:` section: SAML keys are only used with Verify's "
                              "hub as the upstream")
    return saml


def _kid(jwk: dict[str, Any]) -> str:
    if jwk.get("kid"):
        return str(jwk["kid"])
    from joserfc.jwk import JWKRegistry

    return JWKRegistry.import_key(jwk).thumbprint()


def _signs(item: CommentedMap) -> bool:
    return item.get("signs", True) in (True, "true")


def _encrypts(item: CommentedMap) -> bool:
    return item.get("encrypts", True) in (True, "true")


def _oidc_items(oidc: dict[str, Any]) -> list[dict[str, Any]]:
    if oidc.get("signing_keys") is not None:
        return list(oidc["signing_keys"])
    return [{"file": oidc["signing_key"]}]


def _oidc_list(oidc: CommentedMap) -> CommentedSeq:
    """oidc.signing_keys, first turning the `signing_key: file` shorthand into the list form."""
    if oidc.get("signing_keys") is None:
        position = list(oidc).index("signing_key")
        items = CommentedSeq([CommentedMap([("file", oidc["signing_key"])])])
        oidc.insert(position, "signing_keys", items)
        del oidc["signing_key"]
    return oidc["signing_keys"]


def _swap_contents(first: CommentedMap, second: CommentedMap) -> None:
    """Swaps two key pairs' files but not the mappings, so comments stay where the operator put them."""
    for field in ("key", "cert"):
        first[field], second[field] = second[field], first[field]


def _swap_data_keys(first: CommentedMap, second: CommentedMap) -> None:
    """Swaps two data keys' sources, not the mappings: `encrypts` and comments stay in place."""
    fields = ("file", "id", "key")
    taken = [{field: item.pop(field) for field in fields if field in item}
             for item in (first, second)]
    for item, source in ((first, taken[1]), (second, taken[0])):
        for position, (field, value) in enumerate(source.items()):
            item.insert(position, field, value)


def _append_keeping_trailing_comment(items: CommentedSeq, entry: CommentedMap) -> None:
    """The blank line or comment after a list belongs to its last item: keep it after the list."""
    last = len(items) - 1
    trailing = items.ca.items.pop(last, None)
    trailing_inner = items[last].ca.items.pop(list(items[last])[-1], None) if isinstance(
        items[last], CommentedMap) and items[last] else None
    items.append(entry)
    if trailing is not None:
        items.ca.items[last + 1] = trailing
    if trailing_inner is not None:
        entry.ca.items[list(entry)[-1]] = trailing_inner


def _remove_keeping_trailing_comment(items: CommentedSeq, entry: CommentedMap) -> None:
    index = items.index(entry)
    last = len(items) - 1
    trailing = items.ca.items.pop(last, None)
    trailing_inner = entry.ca.items.pop(list(entry)[-1], None) if index == last and entry else None
    items.pop(index)
    if items and trailing is not None:
        items.ca.items[len(items) - 1] = trailing
    if items and trailing_inner is not None and isinstance(items[-1], CommentedMap):
        items[-1].ca.items[list(items[-1])[-1]] = trailing_inner


def _insert_after(mapping: CommentedMap, after: str, key: str, value: Any) -> None:
    mapping.insert(list(mapping).index(after) + 1, key, value)


FIRST_KEY_FILES = {
    "saml-signing": ("saml-signing.key", "saml-signing.crt"),
    "saml-encryption": ("saml-encryption.key", "saml-encryption.crt"),
    "oidc-es256": ("oidc-signing-es256.jwk.json",),
    "oidc-rs256": ("oidc-signing-rs256.jwk.json",),
    "data": ("data-key.jwk.json",),
    ONE_LOGIN_KIND: ("one-login-client.jwk.json",),
}


def generate_first_keys(kind: str, directory: Path, days: int = DEFAULT_CERT_DAYS,
                        operator: str | None = None) -> list[str]:
    """A first install has no configuration to edit yet: write the files, say where they go."""
    names = FIRST_KEY_FILES[kind]
    paths = [directory / name for name in names]
    for path in paths:
        if path.exists():
            raise KeyCommandError("(files)", f"{path} already exists; not overwriting it")
    if kind.startswith("saml-"):
        key_pem, cert_pem = new_rsa_pair(f"broker SAML {kind[5:]} {datetime.now(UTC):%Y-%m-%d}", days)
        _write_private(paths[0], key_pem)
        paths[1].write_text(cert_pem, encoding="utf-8")
        where = {"saml-signing": "saml.signing", "saml-encryption": "saml.encryption[0]"}[kind]
        messages = [f"wrote {paths[0]} and {paths[1]}: set {where}.key and {where}.cert to them"]
    elif kind == "data":
        from broker.sealing import DataKey

        key = DataKey.generate()
        _write_private(paths[0], json.dumps(key.to_jwk(), indent=2))
        messages = [f"wrote {paths[0]} (data key {key.id}): add `- file: {paths[0]}` to "
                    "data_keys"]
    else:
        jwk = new_jwk(kind)
        _write_private(paths[0], json.dumps(jwk, indent=2))
        where = "one_login.signing_keys" if kind == ONE_LOGIN_KIND else "oidc.signing_keys"
        messages = [f"wrote {paths[0]} (kid {_kid(jwk)}): add `- file: {paths[0]}` to {where}"]
    audit.info("key.generated %s: %s", kind, "; ".join(messages), extra={
        "event": "key.generated", "key_kind": kind, "config": None,
        "operator": _operator(operator), "changes": messages})
    return messages


def run(action: str, kind: str | None, config_path: str | None, operator: str | None = None,
        days: int = DEFAULT_CERT_DAYS, out: str | None = None) -> int:
    """The `broker keys …` command: prints what changed and what to do next."""
    _ensure_audit_output()
    if out is not None:
        try:
            messages = generate_first_keys(kind, Path(out), days, operator)
        except KeyCommandError as exc:
            print(f"broker: {exc}", file=sys.stderr)
            return 2
        print("\n".join(messages))
        return 0
    if action == "public":
        return print_public_keys(config_path)
    try:
        manager = KeyManager(config_path, operator=operator, days=days)
        if action == "list":
            now = datetime.now(UTC)
            print("\n".join(table([LIST_HEADINGS, *(key.cells(now) for key in manager.list())])))
            return 0
        from broker.operations.audit_trail import AuditTrailUnavailable

        try:
            trail = manager.open_audit_trail()
        except AuditTrailUnavailable as exc:
            raise KeyCommandError(*str(exc).split(": ", 1)) from None
        messages = getattr(manager, action)(kind)
        if not trail.durable:
            print(f"broker: {manager.path}: database.url: warning: no audit trail there (run "
                  "`broker db upgrade` to keep key changes in it); this change is recorded on the "
                  "broker.audit log only", file=sys.stderr)
    except KeyCommandError as exc:
        print(f"broker: {config_path or os.environ.get('BROKER_CONFIG')}: {exc}", file=sys.stderr)
        return 2
    for message in messages:
        print(message)
    print((NEXT_STEP_DATA if kind == "data" else NEXT_STEP)[action].format(kind=kind))
    return 0


def print_public_keys(config_path: str | None) -> int:
    """What One Login's registration asks for: each published client key as the JWK that
    <issuer>/onelogin/jwks.json serves, and as a PEM public key, the one that signs first."""
    from joserfc.jwk import RSAKey

    from broker.config import ConfigError, load_config
    from broker.one_login.client_auth import public_jwks

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"broker: {exc}", file=sys.stderr)
        return 2
    if config.one_login is None:
        print(f"broker: {config.source}: one_login.signing_keys: no One Login section: configure "
              "one_login first (docs/operations.md, One Login)", file=sys.stderr)
        return 2
    published = zip(config.one_login.signing_keys, public_jwks(config.one_login)["keys"],
                    strict=True)
    for item, jwk in sorted(published, key=lambda pair: not pair[0].signs):
        role = "signs client assertions" if item.signs else "published, does not sign"
        print(f"# one-login-client kid {jwk['kid']} ({role})")
        print(json.dumps(jwk, indent=2))
        print(RSAKey.import_key(jwk).as_pem(private=False).decode().strip())
    return 0


def _ensure_audit_output() -> None:
    """A command run by hand still leaves its audit events on standard error, as JSON lines when
    the broker's log formatter is available; Alembic's notes on opening the audit trail are not
    for the operator (`broker db upgrade` still shows its own)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if logging.getLogger().handlers:
        return
    try:
        from broker.observability import configure_logging
    except ImportError:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(message)s")
    else:
        configure_logging()


NEXT_STEP = {
    "generate": "next: restart each broker process in turn; when the other parties have the new key "
                "(docs/operations.md, key rotation), run `broker keys rotate {kind}`",
    "rotate": "next: restart each broker process in turn; when nothing uses the old key any more "
              "(docs/operations.md), run `broker keys retire {kind}`",
    "retire": "next: restart each broker process in turn",
}

# A data key is private to the broker's processes: no other party has to learn it.
NEXT_STEP_DATA = {
    "generate": "next: restart every broker process (each must open values the new key seals), "
                "then run `broker keys rotate data`",
    "rotate": "next: restart each broker process in turn; once the longest-lived value sealed with "
              "the old key has expired (oidc.session_absolute_seconds; docs/operations.md), run "
              "`broker keys retire data`",
    "retire": "next: restart each broker process in turn, then destroy the old key file",
}
