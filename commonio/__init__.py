"""I/O helpers that agent and hub both use (they never import each other).

``shared`` holds the pure code the two sides have in common (records, chains, proofs, mapping);
this package holds the few helpers that do I/O and are needed on both sides:

    rtcloop   the asyncio thread aiortc runs in; ICE host addresses and a UDP port range

It imports neither ``agent``, ``hub``, ``provisioning`` nor ``simulator`` (import-linter contract
in setup.cfg).
"""
