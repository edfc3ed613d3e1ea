"""Configuration bundles the hub pushes to agents, signed with the hub's Ed25519 key (docs/agent.md).

A bundle names its target (one agent, or every agent of a site), a version (a positive integer that
only grows: agents refuse a bundle that is not newer than the last one they saw), when it was made,
and its files (``name -> text``): mapping profiles, camera profiles, and :data:`SETTINGS_FILE`, a
YAML subset of ``agent.yaml`` (only the keys in :data:`SETTINGS_KEYS`).

The hub signs::

    b"xiaoneng/v1/config\\0" || canonical({"target": {"kind", "id"}, "version", "created_at", "files"})

and publishes the JSON form ``{"target", "version", "created_at", "files", "signature": base64}``.
:func:`parse_bundle` is strict and raises only :class:`BundleError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.canonical import MAX_SAFE_INT, canonical
from shared.errors import CanonicalError, XiaonengError
from shared.record import check_ts
from shared.topics import valid_id

BUNDLE_TAG = b"xiaoneng/v1/config\x00"
#: The largest bundle (its JSON form) an agent accepts; profiles are a few kilobytes each.
MAX_BUNDLE_BYTES = 512 * 1024
MAX_FILES = 32
#: The bundle's agent settings (merged over ``agent.yaml``).
SETTINGS_FILE = "settings.yaml"
#: The ``agent.yaml`` keys a bundle may set; identity, keys and the broker link stay local.
SETTINGS_KEYS = frozenset({"capture", "cameras", "uplink", "log_level", "audit_interval_s"})
TARGET_KINDS = ("agent", "site")
FIELDS = frozenset({"target", "version", "created_at", "files", "signature"})
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.ya?ml$")


class BundleError(XiaonengError):
    """A configuration bundle that is malformed, unsigned, or signed by another key."""


@dataclass(frozen=True, slots=True)
class ConfigBundle:
    """A (possibly unsigned) bundle. Construction validates every field (``BundleError``)."""

    target_kind: str
    target_id: str
    version: int
    created_at: str
    files: dict[str, str]
    signature: bytes = b""

    def __post_init__(self) -> None:
        if self.target_kind not in TARGET_KINDS:
            raise BundleError(f"bundle target kind must be 'agent' or 'site', not {str(self.target_kind)[:20]!r}")
        if not isinstance(self.target_id, str) or not valid_id(self.target_id):
            raise BundleError(f"bundle target id {str(self.target_id)[:70]!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise BundleError(f"bundle version must be an integer, got {type(self.version).__name__}")
        if not 1 <= self.version <= MAX_SAFE_INT:
            raise BundleError(f"bundle version {self.version} is outside 1..2**53-1")
        try:
            check_ts(self.created_at, "bundle created_at")
        except XiaonengError as exc:
            raise BundleError(str(exc)) from None
        if not isinstance(self.files, dict) or not self.files:
            raise BundleError("a bundle must carry at least one file")
        if len(self.files) > MAX_FILES:
            raise BundleError(f"a bundle carries at most {MAX_FILES} files, this one {len(self.files)}")
        for name, text in self.files.items():
            if not isinstance(name, str) or not _FILE_NAME.match(name):
                raise BundleError(f"bundle file name {str(name)[:70]!r} must be a plain .yaml/.yml name "
                                  "(letters, digits, _ . -; no folders)")
            if not isinstance(text, str):
                raise BundleError(f"bundle file {name} must be text")
        if not isinstance(self.signature, bytes) or len(self.signature) not in (0, 64):
            raise BundleError("bundle signature must be empty or 64 bytes (Ed25519)")

    def applies_to(self, agent_id: str, site_id: str) -> bool:
        """Whether an agent with these ids is this bundle's target."""
        return self.target_id == (agent_id if self.target_kind == "agent" else site_id)

    def signing_bytes(self) -> bytes:
        """The exact bytes the signature covers."""
        try:
            return BUNDLE_TAG + canonical(self._body())
        except CanonicalError as exc:
            raise BundleError(f"bundle cannot be encoded canonically: {exc}") from None

    def _body(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target_kind, "id": self.target_id},
            "version": self.version,
            "created_at": self.created_at,
            "files": dict(self.files),
        }

    def digest(self) -> str:
        """SHA-256 of the signed bytes (hex): names this exact bundle in logs and the hub's audit."""
        return hashlib.sha256(self.signing_bytes()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {**self._body(), "signature": base64.b64encode(self.signature).decode("ascii")}

    def to_bytes(self) -> bytes:
        """What the hub publishes (UTF-8 JSON, canonical member order)."""
        return canonical(self.to_json())


def sign_bundle(bundle: ConfigBundle, key: Ed25519PrivateKey) -> ConfigBundle:
    """``bundle`` signed with the hub's key."""
    return replace(bundle, signature=key.sign(bundle.signing_bytes()))


def verify_bundle(bundle: ConfigBundle, key: Ed25519PublicKey) -> None:
    """Raise :class:`BundleError` unless ``bundle`` carries a valid signature by ``key``."""
    if not bundle.signature:
        raise BundleError("the bundle is not signed")
    try:
        key.verify(bundle.signature, bundle.signing_bytes())
    except InvalidSignature:
        raise BundleError("the bundle's signature does not verify with the hub's key (hub_public_key): "
                          "it was altered or not made by this hub") from None


def bundle_from_json(data: Any) -> ConfigBundle:
    """The bundle of a parsed JSON form (not verified)."""
    if not isinstance(data, dict):
        raise BundleError("a bundle must be a JSON object")
    if set(data) != FIELDS:
        missing, extra = sorted(FIELDS - set(data)), sorted(set(data) - FIELDS)
        raise BundleError(f"bundle fields wrong: missing {missing}, unexpected {[str(k)[:40] for k in extra]}")
    target = data["target"]
    if not isinstance(target, dict) or set(target) != {"kind", "id"}:
        raise BundleError("bundle target must be {\"kind\": \"agent\"|\"site\", \"id\": ...}")
    sig = data["signature"]
    if not isinstance(sig, str):
        raise BundleError("bundle signature must be base64 text")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("bundle signature is not valid base64") from None
    files = data["files"]
    return ConfigBundle(target["kind"], target["id"], data["version"], data["created_at"],
                        dict(files) if isinstance(files, dict) else files, signature)


def parse_bundle(payload: bytes, key: Ed25519PublicKey) -> ConfigBundle:
    """A bundle as received from the hub: size, JSON, fields and signature checked."""
    if len(payload) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle of {len(payload)} bytes is larger than {MAX_BUNDLE_BYTES}")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"bundle is not JSON: {str(exc)[:200]}") from None
    bundle = bundle_from_json(data)
    verify_bundle(bundle, key)
    return bundle


def check_settings(data: Any, where: str = SETTINGS_FILE) -> dict[str, Any]:
    """The settings subset of a bundle, as parsed YAML: a mapping of :data:`SETTINGS_KEYS` only."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BundleError(f"{where}: must be a mapping of agent.yaml keys")
    unknown = sorted(str(k) for k in data if k not in SETTINGS_KEYS)
    if unknown:
        raise BundleError(f"{where}: a pushed configuration may not set {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(SETTINGS_KEYS))})")
    return dict(data)
