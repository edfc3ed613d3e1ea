"""Mosquitto 2.0 password hashes made by us: format, verification, compatibility with mosquitto_passwd."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import passwords
from shared.errors import ProvisioningError
from tests.support.required import need_tool


def test_hash_has_the_mosquitto_2_pbkdf2_layout() -> None:
    h = passwords.hash_password("secret", iterations=101, salt=b"\x01" * 12)
    kind, iterations, salt, digest = h.split("$")[1:]
    assert (kind, iterations) == ("7", "101")
    assert base64.b64decode(salt) == b"\x01" * 12
    assert len(base64.b64decode(digest)) == 64
    assert base64.b64decode(digest) == hashlib.pbkdf2_hmac("sha512", b"secret", b"\x01" * 12, 101)


def test_line_and_file() -> None:
    h = passwords.hash_password("pw")
    assert passwords.password_line("a1", h) == f"a1:{h}"
    text = passwords.password_file_text({"b": h, "a": h})
    assert text == f"a:{h}\nb:{h}\n"


@pytest.mark.parametrize("username", ["", "a:b", "a\nb", "tab\there"])
def test_bad_usernames_are_refused(username: str) -> None:
    with pytest.raises(ProvisioningError, match="username"):
        passwords.password_line(username, passwords.hash_password("pw"))


def test_bad_salt_and_empty_password_are_refused() -> None:
    with pytest.raises(ProvisioningError, match="12-byte salt"):
        passwords.hash_password("pw", salt=b"short")
    with pytest.raises(ProvisioningError, match="empty"):
        passwords.hash_password("")


def test_random_passwords_are_long_distinct_and_file_safe() -> None:
    pws = {passwords.random_password() for _ in range(200)}
    assert len(pws) == 200
    assert all(len(p) >= 24 and ":" not in p and p.strip() == p for p in pws)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=50))
def test_verify_round_trip(password: str, iterations: int) -> None:
    h = passwords.hash_password(password, iterations=iterations)
    assert passwords.verify_password(password, h)
    assert not passwords.verify_password(password + "x", h)


@given(st.text(max_size=120))
def test_parsing_garbage_raises_only_provisioning_error(text: str) -> None:
    try:
        passwords.parse_hash(text)
    except ProvisioningError:
        pass


def test_hash_made_by_mosquitto_passwd_verifies_here(tmp_path: Path) -> None:
    need_tool("mosquitto_passwd", "mosquitto")
    pwfile = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "alice", "wonderland"], check=True)
    user, h = pwfile.read_text().strip().split(":", 1)
    assert user == "alice" and h.startswith("$7$")
    assert passwords.verify_password("wonderland", h)
    assert not passwords.verify_password("wonderlanD", h)
