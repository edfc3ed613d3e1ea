"""The hub's web server (cheroot) measured: pages per second, SSE delivery latency, stop time, over HTTP and HTTPS.

    python bench/webserver.py --json [--streams 100] [--events 200] [--seconds 5]

A real hub web app (auth tables, one admin) on a free port; ``--streams`` live streams held open
while pages are fetched by 8 client threads, events published on the bus and timed to their arrival
at one stream, then the server stopped with every stream open.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import ssl
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from hub.auth import ScryptParams, connect, create_user, ensure_schema  # noqa: E402
from hub.web.app import create_app, shutdown  # noqa: E402
from hub.web.events import EventBus  # noqa: E402
from hub.web.metrics import Registry  # noqa: E402
from hub.webserver import REQUEST_THREADS, AppServer  # noqa: E402
from hub.webtls import TlsFiles  # noqa: E402

PASSWORD = "benchmark password 1"  # noqa: S105 - a throwaway user in a temporary database


def certificate(directory: Path) -> TlsFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import ipaddress

    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(key, hashes.SHA256()))
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(scheme: str, streams: int, events: int, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "hub.sqlite"
        conn = connect(db)
        ensure_schema(conn)
        fast = ScryptParams(n=2**8, r=8, p=1)
        create_user(conn, "admin", PASSWORD, "admin", params=fast)
        conn.close()
        bus = EventBus()
        app = create_app({"database": str(db), "secret_key": "bench-secret-key-0123456789",
                          "sse_max_clients": streams + 1}, bus=bus, metrics=Registry(), scrypt=fast)
        tls = certificate(root) if scheme == "https" else None
        server = AppServer(app, "127.0.0.1", 0, tls=tls, threads=streams + 1 + REQUEST_THREADS)
        server.start()
        context = ssl.create_default_context(cafile=str(tls.cert)) if tls else None

        def connection() -> http.client.HTTPConnection:
            if context is None:
                return http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=30, context=context)

        c = connection()
        c.request("GET", "/login")
        page = c.getresponse()
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page.read())
        assert token is not None
        jar = (page.getheader("Set-Cookie") or "").split(";")[0]
        c.request("POST", "/login", body=urlencode({"username": "admin", "password": PASSWORD,
                                                     "csrf_token": token.group(1).decode()}),
                  headers={"Cookie": jar, "Content-Type": "application/x-www-form-urlencoded"})
        login = c.getresponse()
        login.read()
        cookie = (login.getheader("Set-Cookie") or "").split(";")[0]
        c.close()

        held = []
        for _ in range(streams):
            s = connection()
            s.request("GET", "/api/v1/stream", headers={"Cookie": cookie})
            response = s.getresponse()
            response.readline()
            held.append((s, response))
        deadline = time.monotonic() + 30
        while bus.subscriber_count < streams and time.monotonic() < deadline:
            time.sleep(0.01)

        # pages per second with every stream open (8 keep-alive clients)
        done = [0]
        stop_at = time.monotonic() + seconds
        lock = threading.Lock()

        def client() -> None:
            k = connection()
            while time.monotonic() < stop_at:
                k.request("GET", "/login")
                r = k.getresponse()
                r.read()
                assert r.status == 200
                with lock:
                    done[0] += 1
            k.close()

        started = time.monotonic()
        workers = [threading.Thread(target=client) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        pages_per_s = done[0] / (time.monotonic() - started)

        # publish -> arrival at the first stream
        _, watch = held[0]
        latencies = []
        for i in range(events):
            sent = time.monotonic()
            bus.publish("card.raised", {"card_id": f"K-{i}", "dept_code": "D01"})
            marker = f'"K-{i}"'.encode()
            while True:
                line = watch.readline()
                if marker in line:
                    break
            latencies.append((time.monotonic() - sent) * 1000)

        t0 = time.monotonic()
        shutdown(app)
        server.stop()
        stop_s = time.monotonic() - t0
        for s, _ in held:
            s.close()
        return {
            "scheme": scheme,
            "streams_open": streams,
            "pages_per_s": round(pages_per_s, 1),
            "sse_latency_p50_ms": round(percentile(latencies, 0.5), 2),
            "sse_latency_p99_ms": round(percentile(latencies, 0.99), 2),
            "stop_s_with_streams_open": round(stop_s, 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [run(scheme, args.streams, args.events, args.seconds) for scheme in ("http", "https")]
    if args.json:
        print(json.dumps({"server": "cheroot", "results": results}, ensure_ascii=False))
    else:
        for r in results:
            print(r)


if __name__ == "__main__":
    main()
