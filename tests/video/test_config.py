"""DATA/video.yaml: defaults when absent, strict keys, cross-field checks; the ICE port range."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from commonio.rtcloop import PortRangeLoop
from hub.video.config import RelayConfig, load_relay_config
from shared.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    assert load_relay_config(tmp_path) == RelayConfig()


def test_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / "video.yaml").write_text("grace_s: 3\nice_addresses: [10.0.0.5]\nice_ports: [40000, 40010]\n")
    config = load_relay_config(tmp_path)
    assert config.grace_s == 3.0 and config.ice_addresses == ["10.0.0.5"] and config.port_range == (40000, 40010)


@pytest.mark.parametrize(("text", "error"), [
    ("grace: 3\n", "unknown key 'grace'"),
    ("grace_s: 0\n", "grace_s must be > 0"),
    ("ice_ports: [80, 90]\n", "ice_ports must be [low, high] within 1024-65535"),
    ("ice_ports: [50000]\n", "ice_ports must be [low, high]"),
    ("ice_addresses: []\n", "ice_addresses must name at least one address"),
    ("max_viewers: 0\n", "must be >= 1"),
])
def test_bad_settings_name_the_key_and_the_file(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "video.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_relay_config(tmp_path)
    assert str(tmp_path / "video.yaml") in str(info.value) and error in str(info.value)


def free_udp_ports(count: int) -> tuple[int, int]:
    """``count`` consecutive UDP ports free a moment ago."""
    for low in range(42000, 60000, 97):
        socks = []
        try:
            for port in range(low, low + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return low, low + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free UDP port range")


def test_ice_sockets_take_ports_from_the_range() -> None:
    low, high = free_udp_ports(3)
    loop = PortRangeLoop((low, high))

    async def bind(n: int) -> list[int]:
        made = [await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
                for _ in range(n)]
        ports = [t.get_extra_info("sockname")[1] for t, _p in made]
        for t, _p in made:
            t.close()
        return ports

    try:
        assert sorted(loop.run_until_complete(bind(3))) == [low, low + 1, high]

        async def exhaust() -> None:
            made = [await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
                    for _ in range(3)]
            try:
                with pytest.raises(OSError, match=f"no free UDP port in {low}-{high}"):
                    await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            finally:
                for t, _p in made:
                    t.close()

        loop.run_until_complete(exhaust())
    finally:
        loop.close()
    with pytest.raises(ValueError, match="must lie within 1024-65535"):
        PortRangeLoop((80, 90))
