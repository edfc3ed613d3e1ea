"""The asyncio thread that aiortc runs in, and the ICE network settings (addresses, UDP ports).

aiortc is asyncio code; agent and hub are threads (uplink and cameras; ingest and web server).
:class:`RtcLoop` owns one event loop in a thread of its own: other threads hand it work with
:meth:`RtcLoop.submit` (a coroutine, a ``concurrent.futures.Future`` back) or :meth:`RtcLoop.call`
(a plain function), and never block it.

ICE on an intranet: no STUN server (``RTCConfiguration(iceServers=[])``), host
candidates only. Two settings make that work through firewalls and in tests:

- ``addresses``: the local addresses to offer as host candidates. aioice offers every interface
  except 127.0.0.1; naming them (e.g. ``[10.1.2.3]``, or ``[127.0.0.1]`` for a one-machine test)
  replaces ``aioice.ice.get_host_addresses`` for the whole process.
- ``ports``: a UDP port range ``(low, high)`` for the host candidates, so that a firewall between
  hall and hub can be opened for exactly those ports. aioice binds port 0 (any); the loop's
  ``create_datagram_endpoint`` turns a request for port 0 into the first free port of the range.
  (aioice has no such option yet: aiortc/aioice#47.)

One module for both sides: the agent's camera publisher and the hub's relay import it from here
(:mod:`commonio`), since agent and hub never import each other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import errno
import gc
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar, cast

T = TypeVar("T")


def _libc_malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
    return cast(Callable[[], object] | None, None if trim is None else (lambda: trim(0)))


_MALLOC_TRIM = _libc_malloc_trim()


def release_memory() -> None:
    """Free what closed peer connections held, now rather than some day.

    A closed ``RTCPeerConnection`` sits in reference cycles (aiortc's transports point at each
    other, event handlers at their owners), so only Python's cyclic collector frees it — and with
    it the native memory of its DTLS (OpenSSL), SRTP, socket and codec state. In a long-running
    process the oldest generation is collected rarely, so with sessions coming and going all day
    that memory piled up (RSS +20 % in 10 minutes, bench/video.py) before a collection happened to
    run. Call this after sessions ended (not more than every few seconds): a full collection
    (~30-60 ms) and glibc's ``malloc_trim(0)``, which hands the freed heap back to the system.
    """
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM()


def use_host_addresses(addresses: Sequence[str] | None) -> None:
    """Offer exactly ``addresses`` as ICE host candidates, process-wide (None: aioice's default)."""
    import aioice.ice

    original = getattr(aioice.ice, "_xn_original_get_host_addresses", None)
    if original is None:
        original = aioice.ice.get_host_addresses
        aioice.ice._xn_original_get_host_addresses = original  # type: ignore[attr-defined]
    if addresses is None:
        aioice.ice.get_host_addresses = original
        return
    chosen = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses


class PortRangeLoop(asyncio.SelectorEventLoop):
    """An event loop whose UDP sockets asked for "any port" get one of ``ports`` instead."""

    def __init__(self, ports: tuple[int, int] | None = None) -> None:
        super().__init__()
        if ports is not None and not 1024 <= ports[0] <= ports[1] <= 65535:
            self.close()
            raise ValueError(f"UDP port range {ports[0]}-{ports[1]} must lie within 1024-65535")
        self.ports = ports
        self._next = 0

    async def create_datagram_endpoint(  # type: ignore[override]
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], local_addr: Any = None,
        remote_addr: Any = None, **kwargs: Any,
    ) -> tuple[asyncio.DatagramTransport, asyncio.BaseProtocol]:
        if self.ports is None or local_addr is None or local_addr[1] != 0 or remote_addr is not None:
            return await super().create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, remote_addr=remote_addr, **kwargs)
        low, high = self.ports
        count = high - low + 1
        for i in range(count):
            port = low + (self._next + i) % count
            try:
                made = await super().create_datagram_endpoint(
                    protocol_factory, local_addr=(local_addr[0], port), **kwargs)
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            self._next = (port - low + 1) % count
            return made
        raise OSError(errno.EADDRINUSE, f"no free UDP port in {low}-{high} on {local_addr[0]}")


class RtcLoop:
    """An asyncio loop in a daemon thread; ``start`` / ``stop``, thread-safe ``submit`` / ``call``."""

    def __init__(self, name: str = "xn-rtc", ports: tuple[int, int] | None = None) -> None:
        self.name = name
        self.loop = PortRangeLoop(ports)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> RtcLoop:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self.loop.is_closed()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; the returned future completes in the caller's world."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon (from any thread; never blocks)."""
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop has closed: the process is stopping
            pass

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the loop (its pending tasks are cancelled); True if the thread ended in time."""
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        thread.join(timeout)
        return not thread.is_alive()
