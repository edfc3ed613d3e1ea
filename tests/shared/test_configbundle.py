"""shared.configbundle: signing, strict parsing, target and settings checks."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.configbundle import (
    MAX_BUNDLE_BYTES,
    BundleError,
    ConfigBundle,
    check_settings,
    parse_bundle,
    sign_bundle,
)

KEY = Ed25519PrivateKey.generate()
AT = "2026-12-03T18:00:00+00:00"


def bundle(**kw: object) -> ConfigBundle:
    fields: dict[str, object] = {"target_kind": "agent", "target_id": "a1", "version": 3, "created_at": AT,
                                 "files": {"settings.yaml": "log_level: INFO\n", "p.yaml": "profile: x\n"}}
    fields.update(kw)
    return ConfigBundle(**fields)  # type: ignore[arg-type]


def test_signed_bundle_round_trips() -> None:
    b = sign_bundle(bundle(), KEY)
    got = parse_bundle(b.to_bytes(), KEY.public_key())
    assert got == b
    assert got.digest() == b.digest() and len(got.digest()) == 64


def test_other_key_or_altered_file_refused() -> None:
    b = sign_bundle(bundle(), KEY)
    with pytest.raises(BundleError, match="does not verify"):
        parse_bundle(b.to_bytes(), Ed25519PrivateKey.generate().public_key())
    data = json.loads(b.to_bytes())
    data["files"]["p.yaml"] = "profile: evil\n"
    with pytest.raises(BundleError, match="does not verify"):
        parse_bundle(json.dumps(data).encode(), KEY.public_key())
    data = json.loads(b.to_bytes())
    data["version"] = 99
    with pytest.raises(BundleError, match="does not verify"):
        parse_bundle(json.dumps(data).encode(), KEY.public_key())


def test_unsigned_refused() -> None:
    with pytest.raises(BundleError, match="not signed"):
        parse_bundle(bundle().to_bytes(), KEY.public_key())


@pytest.mark.parametrize("payload, match", [
    (b"[1]", "JSON object"),
    (b"{", "not JSON"),
    (b'{"target": 1}', "fields wrong"),
    (b"x" * (MAX_BUNDLE_BYTES + 1), "larger than"),
])
def test_malformed_refused(payload: bytes, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        parse_bundle(payload, KEY.public_key())


def test_bad_signature_encoding() -> None:
    data = json.loads(sign_bundle(bundle(), KEY).to_bytes())
    data["signature"] = "!!"
    with pytest.raises(BundleError, match="base64"):
        parse_bundle(json.dumps(data).encode(), KEY.public_key())
    data["signature"] = base64.b64encode(b"short").decode()
    with pytest.raises(BundleError, match="64 bytes"):
        parse_bundle(json.dumps(data).encode(), KEY.public_key())


@pytest.mark.parametrize("kw, match", [
    ({"target_kind": "city"}, "kind"),
    ({"target_id": "a b"}, "target id"),
    ({"version": 0}, "outside"),
    ({"version": True}, "integer"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"files": {}}, "at least one"),
    ({"files": {"../agent.yaml": "x"}}, "plain .yaml"),
    ({"files": {"key.pem": "x"}}, "plain .yaml"),
    ({"files": {"a.yaml": 3}}, "text"),
])
def test_fields_checked(kw: dict[str, object], match: str) -> None:
    with pytest.raises(BundleError, match=match):
        bundle(**kw)


def test_targets() -> None:
    assert bundle().applies_to("a1", "s1")
    assert not bundle().applies_to("a2", "s1")
    site = bundle(target_kind="site", target_id="s1")
    assert site.applies_to("a2", "s1") and not site.applies_to("s1", "s2")


def test_settings_subset() -> None:
    assert check_settings({"capture": [], "log_level": "INFO"}) == {"capture": [], "log_level": "INFO"}
    assert check_settings(None) == {}
    with pytest.raises(BundleError, match="may not set broker, key_file"):
        check_settings({"broker": {}, "key_file": "x"})
    with pytest.raises(BundleError, match="mapping"):
        check_settings([1])
