"""The hub's append-only Merkle log: RFC 6962 tree hashing, proofs and their verification (§4.3).

Hashes are RFC 6962's: a leaf is ``SHA-256(0x00 || data)``, an inner node ``SHA-256(0x01 || l || r)``
and the empty tree ``SHA-256("")``. The tree of ``n`` leaves is RFC 6962's MTH (left subtree the
largest power of two smaller than ``n``), never a tree padded to a power of two.

A store keeps only *perfect aligned* subtrees: node ``(level, index)`` is the hash of the full
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
Such a node never changes once its last leaf is appended, so it can be written once. Every other
hash a proof needs is rebuilt here from at most ``log2(n)`` of them (:func:`subtree_hash`).
:class:`CompactRange` is the frontier the hub appends to; it tells the caller which nodes an append
completed so they can be stored. Proof generation takes a :class:`NodeReader` (the store); proof
verification is pure and follows RFC 9162 §2.1.3.2 and §2.1.4.2.

Errors: :class:`~shared.errors.ProofError` when a proof does not verify, :class:`ValueError` when
the caller asks for something impossible (a leaf index outside the tree, ``m > n``, a bad frontier).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Protocol

from shared.errors import ProofError

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 inner node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 §2.1 Merkle Tree Hash of a list of leaf hashes (reference, O(n) hashes)."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


class NodeReader(Protocol):
    """Where proofs read stored nodes from (the hub's database, or :class:`MemoryNodes`)."""

    def node(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree over leaves ``[index * 2**level, (index+1) * 2**level)``.

        Level 0 is the leaf hash itself. Raises :class:`KeyError` (or another ``LookupError``)
        when the store does not hold that node.
        """
        ...


def subtree_hash(reader: NodeReader, start: int, end: int) -> bytes:
    """The RFC 6962 hash of leaves ``[start, end)``, built from perfect aligned stored nodes.

    The range must be a subtree of the RFC 6962 tree of any size ``>= end``: ``start`` a multiple
    of the smallest power of two ``>= end - start`` (this holds for the root ``[0, n)`` and for every
    subtree a proof uses). It is split into at most ``log2(end - start) + 1`` perfect nodes, read
    largest first, and folded right to left.
    """
    if not 0 <= start < end:
        raise ValueError(f"subtree [{start}, {end}) is empty or negative")
    width = end - start
    if start & ((1 << (width - 1).bit_length()) - 1):
        raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 6962 tree")
    parts: list[bytes] = []
    pos = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            parts.append(reader.node(level, pos >> level))
            pos += 1 << level
    result = parts.pop()
    while parts:
        result = node_hash(parts.pop(), result)
    return result


def root_at(reader: NodeReader, size: int) -> bytes:
    """The root of the tree of the first ``size`` leaves held by ``reader``."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return subtree_hash(reader, 0, size) if size else EMPTY_ROOT


class CompactRange:
    """The right frontier of the tree: the perfect subtrees covering leaves ``[0, size)``.

    ``hashes`` holds one node per set bit of ``size``, largest (leftmost) first. Appending costs
    one hash on average (amortised O(1)); :meth:`root` costs at most ``log2(size)`` hashes.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf; return the ``(level, index, hash)`` of every node it completed.

        Level 0 (the leaf itself, at index ``size`` before the call) is not in the list; the
        caller stores it along with the returned nodes.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
        completed: list[tuple[int, int, bytes]] = []
        hashes = self._hashes
        index = self._size
        digest = leaf_hash
        level = 0
        while index & 1:
            digest = _sha256(b"\x01" + hashes.pop() + digest).digest()
            index >>= 1
            level += 1
            completed.append((level, index, digest))
        hashes.append(digest)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """The RFC 6962 root of the tree of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for digest in reversed(self._hashes[:-1]):
            result = node_hash(digest, result)
        return result

    def to_hashes(self) -> list[bytes]:
        """The frontier nodes, largest first; persist them with :attr:`size`."""
        return list(self._hashes)

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> "CompactRange":
        """Restore a frontier saved with :meth:`to_hashes`.

        Raises :class:`ValueError` when ``hashes`` cannot be the frontier of a tree of ``size``
        leaves (wrong count or hash length). That the hashes are the *right* ones cannot be checked
        here: compare :meth:`root` with the last signed checkpoint.
        """
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"tree size must be a non-negative integer, got {size!r}")
        expected = size.bit_count()
        if len(hashes) != expected:
            raise ValueError(
                f"a tree of {size} leaves has {expected} frontier hashes, got {len(hashes)}"
            )
        for i, digest in enumerate(hashes):
            if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
                raise ValueError(f"frontier hash {i} is not {HASH_SIZE} bytes")
        frontier = cls()
        frontier._size = size
        frontier._hashes = list(hashes)
        return frontier

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> "CompactRange":
        """Rebuild the frontier of the first ``size`` leaves from stored nodes."""
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        hashes: list[bytes] = []
        pos = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(reader.node(level, pos >> level))
                pos += 1 << level
        return cls.from_hashes(size, hashes)


class MemoryNodes:
    """A dict-backed :class:`NodeReader` for tests and offline tools."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def put(self, level: int, index: int, digest: bytes) -> None:
        """Store node ``(level, index)``."""
        self._nodes[(level, index)] = digest

    def node(self, level: int, index: int) -> bytes:
        """See :meth:`NodeReader.node`; raises :class:`KeyError` for a node not stored."""
        try:
            return self._nodes[(level, index)]
        except KeyError:
            raise KeyError(f"no node at level {level}, index {index}") from None

    def append(self, frontier: CompactRange, leaf: bytes) -> None:
        """Append leaf hash ``leaf`` to ``frontier`` and store the leaf and every completed node."""
        index = frontier.size
        for level, idx, digest in frontier.append(leaf):
            self._nodes[(level, idx)] = digest
        self._nodes[(0, index)] = leaf

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> "MemoryNodes":
        """A store holding every perfect node of the tree of ``leaf_hashes``."""
        store, frontier = cls(), CompactRange()
        for leaf in leaf_hashes:
            store.append(frontier, leaf)
        return store


# -- proof generation (RFC 6962 §2.1.1, §2.1.2) ----------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees of RFC 6962 PATH(index, D[size]), in proof order (leaf side first)."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The subtrees of RFC 6962 PROOF(m, D[n]) for ``0 < m < n``, in proof order."""
    ranges: list[tuple[int, int]] = []
    lo, hi, whole = 0, n, True
    while hi != m:
        k = _split(hi - lo)
        if m - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return [subtree_hash(reader, lo, hi) for lo, hi in _inclusion_ranges(index, size)]


def consistency_proof(m: int, n: int, reader: NodeReader) -> list[bytes]:
    """RFC 6962 §2.1.2 proof that the tree of ``m`` leaves is a prefix of the tree of ``n``.

    Empty when ``m == 0`` or ``m == n``.
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m == 0 or m == n:
        return []
    return [subtree_hash(reader, lo, hi) for lo, hi in _consistency_ranges(m, n)]


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ----------------------------------------------------


def _short(digest: bytes) -> str:
    return digest.hex()[:16] + "…"


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {size}")
    return value


def _check_size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Raises :class:`ProofError` saying what did not match. The tree size is bound only as far as it
    shapes the path: a proof can also verify for another size whose path has the same shape, which
    is harmless because the root is only trusted together with its signed size.
    """
    what = f"inclusion proof for leaf {index} in tree of size {size}"
    index, size = _check_size(index, "leaf index"), _check_size(size, "tree size")
    leaf = _check_hash(leaf_hash, "leaf hash")
    root = _check_hash(root, "root")
    if index >= size:
        raise ProofError(f"{what}: the leaf index is outside the tree")
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(f"{what}: has {len(proof)} hashes, expected {expected}")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        p = _check_hash(p, f"{what}: proof[{i}]")
        if sn == 0:
            raise ProofError(f"{what}: longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"{what}: shorter than the path to the root")
    if not hmac.compare_digest(r, root):
        raise ProofError(f"{what}: computed root {_short(r)} does not match root {_short(root)}")


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``m`` leaves with ``root_m`` is a prefix of the tree of ``n`` leaves
    with ``root_n``. Raises :class:`ProofError` saying what did not match.

    ``m == n`` needs equal roots and an empty proof; ``m == 0`` needs ``root_m`` to be the empty
    tree's root and an empty proof (any ``root_n`` extends the empty tree). As for inclusion, a
    proof can also verify for other sizes giving the same shape; trust roots only with their
    signed sizes.
    """
    what = f"consistency proof from size {m} to size {n}"
    m, n = _check_size(m, "first tree size"), _check_size(n, "second tree size")
    root_m = _check_hash(root_m, "first root")
    root_n = _check_hash(root_n, "second root")
    if m > n:
        raise ProofError(f"{what}: the first tree is larger than the second")
    if m == 0 or m == n:
        if proof:
            raise ProofError(f"{what}: must be empty, has {len(proof)} hashes")
        if m == 0 and not hmac.compare_digest(root_m, EMPTY_ROOT):
            raise ProofError(f"{what}: root {_short(root_m)} is not the empty tree's root")
        if m == n and not hmac.compare_digest(root_m, root_n):
            raise ProofError(
                f"{what}: same size but different roots {_short(root_m)} and {_short(root_n)}"
            )
        return
    expected = len(_consistency_ranges(m, n))
    if len(proof) != expected:
        raise ProofError(f"{what}: has {len(proof)} hashes, expected {expected}")
    path = [_check_hash(p, f"{what}: proof[{i}]") for i, p in enumerate(proof)]
    if m & (m - 1) == 0:
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"{what}: longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"{what}: shorter than the path to the root")
    if not hmac.compare_digest(fr, root_m):
        raise ProofError(
            f"{what}: rebuilt first root {_short(fr)} does not match {_short(root_m)}"
        )
    if not hmac.compare_digest(sr, root_n):
        raise ProofError(
            f"{what}: rebuilt second root {_short(sr)} does not match {_short(root_n)}"
        )
