"""RFC 6962 Merkle log: known vectors, a naive reference for every small tree, and properties.

The vectors (8 leaves, roots of sizes 1..8, inclusion and consistency proofs, hasher outputs, and
the node ids a proof needs) are the ones Certificate Transparency implementations share; we took
them from transparency-dev/merkle (``proof/verify_test.go``, ``proof/proof_test.go``,
``rfc6962/rfc6962_test.go``), which inherited them from google/certificate-transparency.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import ProofError
from shared.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryNodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_of,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [h(x) for x in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (leaf index, tree size, proof); the source numbers leaves from 1.
INCLUSION = [
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
VECTOR_NODES = MemoryNodes.from_leaves(leaf_hash(x) for x in LEAVES)


# -- naive reference, straight from the RFC 6962 §2.1 definitions ---------------------------------

MAX_N = 130
REF_LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_N)]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) over REF_LEAVES."""
    if hi - lo == 0:
        return EMPTY_ROOT
    if hi - lo == 1:
        return REF_LEAVES[lo]
    k = _k(hi - lo)
    return node_hash(ref_mth(lo, lo + k), ref_mth(lo + k, hi))


def ref_path_ranges(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """The subtrees of PATH(m, D[lo:hi]), recursively as the RFC writes it."""
    if hi - lo == 1:
        return []
    k = _k(hi - lo)
    if m - lo < k:
        return ref_path_ranges(m, lo, lo + k) + [(lo + k, hi)]
    return ref_path_ranges(m, lo + k, hi) + [(lo, lo + k)]


def ref_subproof_ranges(m: int, lo: int, hi: int, whole: bool) -> list[tuple[int, int]]:
    """The subtrees of SUBPROOF(m, D[lo:hi], b); ``m`` is absolute."""
    if hi == m:
        return [] if whole else [(lo, hi)]
    k = _k(hi - lo)
    if m - lo <= k:
        return ref_subproof_ranges(m, lo, lo + k, whole) + [(lo + k, hi)]
    return ref_subproof_ranges(m, lo + k, hi, False) + [(lo, lo + k)]


def ref_inclusion(m: int, n: int) -> list[bytes]:
    return [ref_mth(lo, hi) for lo, hi in ref_path_ranges(m, 0, n)]


def ref_consistency(m: int, n: int) -> list[bytes]:
    if m in (0, n):
        return []
    return [ref_mth(lo, hi) for lo, hi in ref_subproof_ranges(m, 0, n, True)]


def _evaluate(lo: int, hi: int, known: dict[tuple[int, int], bytes]) -> bytes | None:
    """Rebuild MTH(D[lo:hi]) from the subtrees whose hashes are ``known``, RFC-style."""
    if (lo, hi) in known:
        return known[(lo, hi)]
    if hi - lo <= 1:
        return None
    k = _k(hi - lo)
    left, right = _evaluate(lo, lo + k, known), _evaluate(lo + k, hi, known)
    return None if left is None or right is None else node_hash(left, right)


def ref_verify_inclusion(leaf: bytes, m: int, n: int, proof: Sequence[bytes], root: bytes) -> bool:
    """A verifier built from the RFC 6962 recursion instead of RFC 9162's bit walk."""
    if not 0 <= m < n or any(len(p) != 32 for p in [leaf, root, *proof]):
        return False
    ranges = ref_path_ranges(m, 0, n)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof))
    known[(m, m + 1)] = leaf
    return _evaluate(0, n, known) == root


def ref_verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 <= m <= n or any(len(p) != 32 for p in [root_m, root_n, *proof]):
        return False
    if m == 0 or m == n:
        return not proof and (m > 0 or root_m == EMPTY_ROOT) and (m < n or root_m == root_n)
    ranges = ref_subproof_ranges(m, 0, n, True)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof))
    if m & (m - 1) == 0:
        known[(0, m)] = root_m
    return _evaluate(0, m, known) == root_m and _evaluate(0, n, known) == root_n


class RecordingReader:
    """Serves REF_LEAVES' nodes, failing on any node not complete in a tree of ``size`` leaves."""

    def __init__(self, store: MemoryNodes, size: int) -> None:
        self.store, self.size = store, size
        self.reads: list[tuple[int, int]] = []

    def node(self, level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= self.size, f"node ({level},{index}) beyond size {self.size}"
        self.reads.append((level, index))
        return self.store.node(level, index)


REF_NODES = MemoryNodes.from_leaves(REF_LEAVES)


# -- hashes and roots ------------------------------------------------------------------------------


def test_hasher_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == ROOTS[0]
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )
    assert leaf_hash(b"a" * 64) != node_hash(b"a" * 32, b"a" * 32)


def test_roots_of_vectors() -> None:
    hashes = [leaf_hash(x) for x in LEAVES]
    frontier = CompactRange()
    assert root_of([]) == frontier.root() == root_at(VECTOR_NODES, 0) == EMPTY_ROOT
    for n in range(1, 9):
        frontier.append(hashes[n - 1])
        assert root_of(hashes[:n]) == ROOTS[n - 1], n
        assert frontier.root() == ROOTS[n - 1], n
        assert frontier.size == n
        assert root_at(VECTOR_NODES, n) == ROOTS[n - 1], n


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, VECTOR_NODES) == proof
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_consistency_vectors(m: int, n: int, proof: list[bytes]) -> None:
    assert consistency_proof(m, n, VECTOR_NODES) == proof
    verify_consistency(m, n, ROOTS[m - 1], ROOTS[n - 1], proof)


def _corrupt_inclusion(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """The corruptions the CT test suite applies to a good inclusion proof."""
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, root)),
        ("index + 1", (leaf, index + 1, size, proof, root)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, root)),
        ("size * 2", (leaf, index, size * 2, proof, root)),
        ("size // 2", (leaf, index, size // 2, proof, root)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root)),
        ("other leaf", (SOME_HASH, index, size, proof, root)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing garbage", (leaf, index, size, [*proof, b""], root)),
        ("trailing root", (leaf, index, size, [*proof, root], root)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], root)),
        ("preceding root", (leaf, index, size, [root, *proof], root)),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((f"proof[{i}] bit flipped", (leaf, index, size, bad, root)))
    if proof:
        probes.append(("removed element", (leaf, index, size, proof[:-1], root)))
    if len(proof) > 1:
        probes.append(("inserted element", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors_corrupted(index: int, size: int, proof: list[bytes]) -> None:
    for desc, args in _corrupt_inclusion(index, size, proof, ROOTS[size - 1], leaf_hash(LEAVES[index])):
        with pytest.raises(ProofError):
            verify_inclusion(*args)
            pytest.fail(f"verified with {desc}")


@pytest.mark.parametrize(("m", "n", "proof"), [v for v in CONSISTENCY if v[2]])
def test_consistency_vectors_corrupted(m: int, n: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[m - 1], ROOTS[n - 1]
    probes: list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]] = [
        ("m - 1", (m - 1, n, r1, r2, proof)),
        ("m + 1", (m + 1, n, r1, r2, proof)),
        ("m ^ 2", (m ^ 2, n, r1, r2, proof)),
        ("n * 2", (m, n * 2, r1, r2, proof)),
        ("n // 2", (m, n // 2, r1, r2, proof)),
        ("wrong root1", (m, n, b"WrongRoot", r2, proof)),
        ("wrong root2", (m, n, r1, b"WrongRoot", proof)),
        ("other root1", (m, n, SOME_HASH, r2, proof)),
        ("swapped roots", (m, n, r2, r1, proof)),
        ("empty proof", (m, n, r1, r2, [])),
        ("truncated", (m, n, r1, r2, proof[:-1])),
        ("trailing garbage", (m, n, r1, r2, [*proof, b""])),
        ("trailing root1", (m, n, r1, r2, [*proof, r1])),
        ("trailing root2", (m, n, r1, r2, [*proof, r2])),
        ("preceding garbage", (m, n, r1, r2, [b"", *proof])),
        ("preceding root1", (m, n, r1, r2, [r1, *proof])),
        ("preceding root2", (m, n, r1, r2, [r2, *proof])),
        ("preceding proof[0]", (m, n, r1, r2, [proof[0], *proof])),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((f"proof[{i}] bit flipped", (m, n, r1, r2, bad)))
    for desc, args in probes:
        with pytest.raises(ProofError):
            verify_consistency(*args)
            pytest.fail(f"verified with {desc}")


def test_single_entry_and_degenerate_inclusion() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    for bad_leaf, bad_root in ((leaf, b""), (b"", leaf), (b"", b"")):
        with pytest.raises(ProofError, match="32 bytes"):
            verify_inclusion(bad_leaf, 0, 1, [], bad_root)
    for index, size in ((0, 0), (1, 0), (2, 1), (-1, 3)):
        with pytest.raises(ProofError):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_degenerate_consistency() -> None:
    r1, r2 = leaf_hash(b"1"), leaf_hash(b"2")
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r2, [])
    verify_consistency(1, 1, r2, r2, [])
    failing = [
        (0, 0, r1, r1, [], "empty tree"),        # a size-0 tree has one root
        (0, 1, r1, r2, [], "empty tree"),
        (1, 1, r1, r2, [], "different roots"),
        (1, 0, r1, r2, [], "larger"),
        (2, 1, r1, r2, [], "larger"),
        (1, 2, r1, r2, [], "expected 1"),
        (0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT], "must be empty"),
        (1, 1, r1, r1, [EMPTY_ROOT], "must be empty"),
        (-1, 2, r1, r2, [], "non-negative"),
        (True, 2, r1, r2, [], "non-negative"),
    ]
    for m, n, a, b, proof, message in failing:
        with pytest.raises(ProofError, match=message):
            verify_consistency(m, n, a, b, proof)


def test_error_messages_say_what_failed() -> None:
    proof = inclusion_proof(5, 8, VECTOR_NODES)
    with pytest.raises(ProofError, match=r"leaf 5 in tree of size 8: computed root \w+… does not"):
        verify_inclusion(leaf_hash(b"x"), 5, 8, proof, ROOTS[7])
    with pytest.raises(ProofError, match="has 2 hashes, expected 3"):
        verify_inclusion(leaf_hash(LEAVES[5]), 5, 8, proof[:2], ROOTS[7])
    with pytest.raises(ProofError, match=r"proof\[1\] must be 32 bytes, got 3"):
        verify_inclusion(leaf_hash(LEAVES[5]), 5, 8, [proof[0], b"abc", proof[2]], ROOTS[7])
    cproof = consistency_proof(6, 8, VECTOR_NODES)
    with pytest.raises(ProofError, match="from size 6 to size 8: rebuilt second root"):
        verify_consistency(6, 8, ROOTS[5], SOME_HASH, cproof)
    with pytest.raises(ProofError, match="rebuilt first root"):
        verify_consistency(6, 8, SOME_HASH, ROOTS[7], cproof)


# node ids (level, index) each proof must read, from transparency-dev/merkle proof_test.go
NODE_IDS_INCLUSION = [
    (1, 0, []), (2, 0, [(0, 1)]), (2, 1, [(0, 0)]), (3, 1, [(0, 0), (0, 2)]),
    (7, 0, [(0, 1), (1, 1), (0, 6), (1, 2)]), (7, 3, [(0, 2), (1, 0), (0, 6), (1, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]), (7, 6, [(1, 2), (2, 0)]),
    (4, 2, [(0, 3), (1, 0)]), (5, 3, [(0, 2), (1, 0), (0, 4)]), (6, 4, [(0, 5), (2, 0)]),
    (15, 10, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)]),
    (31, 24, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)]),
    (95, 81, [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)]),
]
NODE_IDS_CONSISTENCY = [
    (1, 2, [(0, 1)]), (1, 4, [(0, 1), (1, 1)]), (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]), (2, 8, [(1, 1), (2, 1)]),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)]), (4, 7, [(0, 6), (1, 2)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]), (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]), (3, 3, []), (8, 8, []),
    (2, 4, [(1, 1)]), (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]), (4, 6, [(1, 2)]),
    (1, 7, [(0, 1), (1, 1), (0, 6), (1, 2)]),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)]),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)]),
    (81, 95, [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)]),
]


@pytest.mark.parametrize(("size", "index", "ids"), NODE_IDS_INCLUSION)
def test_inclusion_reads_only_the_needed_nodes(size: int, index: int, ids: list[tuple[int, int]]) -> None:
    reader = RecordingReader(REF_NODES, size)
    inclusion_proof(index, size, reader)
    assert sorted(reader.reads) == sorted(ids)


@pytest.mark.parametrize(("m", "n", "ids"), NODE_IDS_CONSISTENCY)
def test_consistency_reads_only_the_needed_nodes(m: int, n: int, ids: list[tuple[int, int]]) -> None:
    reader = RecordingReader(REF_NODES, n)
    consistency_proof(m, n, reader)
    assert sorted(reader.reads) == sorted(ids)


# -- every tree up to MAX_N leaves against the reference -------------------------------------------


def _all_perfect_nodes(n: int) -> dict[tuple[int, int], bytes]:
    nodes = {}
    level = 0
    while 1 << level <= n:
        for index in range(n >> level):
            nodes[(level, index)] = ref_mth(index << level, (index + 1) << level)
        level += 1
    return nodes


def test_compact_range_matches_reference_for_every_size() -> None:
    frontier, stored = CompactRange(), MemoryNodes()
    for n in range(1, MAX_N + 1):
        stored.append(frontier, REF_LEAVES[n - 1])
        assert frontier.size == n
        assert frontier.root() == ref_mth(0, n) == root_of(REF_LEAVES[:n]), n
        assert len(frontier.to_hashes()) == bin(n).count("1")
        assert CompactRange.from_reader(n, stored).to_hashes() == frontier.to_hashes()
    # append reported exactly the perfect nodes: nothing missing, nothing extra, all correct
    assert stored._nodes == _all_perfect_nodes(MAX_N)


def test_subtree_hash_matches_reference() -> None:
    for n in range(1, MAX_N + 1):
        assert subtree_hash(RecordingReader(REF_NODES, n), 0, n) == ref_mth(0, n)
    for lo in range(MAX_N):
        for hi in range(lo + 1, MAX_N + 1):
            width = 1 << (hi - lo - 1).bit_length()
            if lo % width == 0:
                assert subtree_hash(REF_NODES, lo, hi) == ref_mth(lo, hi), (lo, hi)
            else:
                with pytest.raises(ValueError, match="not a subtree"):
                    subtree_hash(REF_NODES, lo, hi)


def test_inclusion_matches_reference_for_every_size_and_index() -> None:
    for n in range(1, MAX_N + 1):
        root = ref_mth(0, n)
        for m in range(n):
            reader = RecordingReader(REF_NODES, n)
            proof = inclusion_proof(m, n, reader)
            assert proof == ref_inclusion(m, n), (m, n)
            assert len(reader.reads) <= 2 * n.bit_length()
            verify_inclusion(REF_LEAVES[m], m, n, proof, root)
            assert ref_verify_inclusion(REF_LEAVES[m], m, n, proof, root)
            if n > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(REF_LEAVES[m], (m + 1) % n, n, proof, root)
                with pytest.raises(ProofError):
                    verify_inclusion(REF_LEAVES[(m + 1) % n], m, n, proof, root)


def test_consistency_matches_reference_for_every_pair() -> None:
    for n in range(1, MAX_N + 1):
        root_n = ref_mth(0, n)
        for m in range(n + 1):
            reader = RecordingReader(REF_NODES, n)
            proof = consistency_proof(m, n, reader)
            assert proof == ref_consistency(m, n), (m, n)
            assert len(reader.reads) <= 2 * n.bit_length()
            verify_consistency(m, n, ref_mth(0, m), root_n, proof)
            if 0 < m < n:
                with pytest.raises(ProofError):
                    verify_consistency(m, n, ref_mth(0, m - 1) if m > 1 else SOME_HASH, root_n, proof)
                with pytest.raises(ProofError):
                    verify_consistency(m, n, ref_mth(0, m), ref_mth(0, n - 1), proof)


def test_altered_sizes_verify_only_when_the_shape_is_the_same() -> None:
    """Small trees, every other size: our verifiers accept exactly what the RFC 6962 recursion
    accepts, i.e. only sizes whose proof has the same shape (the checkpoint binds the size)."""
    accepted = 0
    for n in range(1, 33):
        root_n = ref_mth(0, n)
        for m in range(n):
            proof = ref_inclusion(m, n)
            for other in range(66):
                args = (REF_LEAVES[m], m, other, proof, root_n)
                expected = ref_verify_inclusion(*args)
                accepted += expected and other != n
                if expected:
                    verify_inclusion(*args)
                else:
                    with pytest.raises(ProofError):
                        verify_inclusion(*args)
        for m in range(n + 1):
            root_m, proof = ref_mth(0, m), ref_consistency(m, n)
            for a, b in [(x, n) for x in range(66)] + [(m, y) for y in range(66)]:
                cargs = (a, b, root_m, root_n, proof)
                expected = ref_verify_consistency(*cargs)
                if expected:
                    verify_consistency(*cargs)
                else:
                    with pytest.raises(ProofError):
                        verify_consistency(*cargs)
    assert accepted > 0  # the looseness exists and is the same in both


# -- misuse ----------------------------------------------------------------------------------------


def test_misuse_raises_value_error() -> None:
    with pytest.raises(ValueError, match="outside a tree of size 8"):
        inclusion_proof(8, 8, VECTOR_NODES)
    with pytest.raises(ValueError, match="outside a tree of size 0"):
        inclusion_proof(0, 0, VECTOR_NODES)
    with pytest.raises(ValueError, match="from size 5 to size 4"):
        consistency_proof(5, 4, VECTOR_NODES)
    with pytest.raises(ValueError, match="empty or negative"):
        subtree_hash(VECTOR_NODES, 3, 3)
    with pytest.raises(ValueError, match="negative"):
        root_at(VECTOR_NODES, -1)
    with pytest.raises(ValueError, match="not 32"):
        CompactRange().append(b"short")
    with pytest.raises(ValueError, match="3 leaves has 2 frontier hashes, got 1"):
        CompactRange.from_hashes(3, [SOME_HASH])
    with pytest.raises(ValueError, match="frontier hash 1 is not 32 bytes"):
        CompactRange.from_hashes(3, [SOME_HASH, b"x"])
    with pytest.raises(ValueError, match="non-negative"):
        CompactRange.from_hashes(-1, [])
    with pytest.raises(KeyError, match="level 4, index 0"):
        root_at(VECTOR_NODES, 16)  # the store holds only 8 leaves


def test_from_hashes_of_empty_tree() -> None:
    restored = CompactRange.from_hashes(0, [])
    assert restored.size == 0 and restored.root() == EMPTY_ROOT
    assert CompactRange.from_reader(0, MemoryNodes()).to_hashes() == []


# -- properties ------------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=40), max_size=300)


@given(leaf_lists)
def test_compact_range_root_is_rfc_root(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    frontier = CompactRange()
    for leaf in hashes:
        frontier.append(leaf)
    assert frontier.size == len(hashes)
    assert frontier.root() == root_of(hashes)


@given(leaf_lists, st.data())
def test_persist_and_restore_round_trip(data: list[bytes], draw: st.DataObject) -> None:
    hashes = [leaf_hash(d) for d in data]
    cut = draw.draw(st.integers(0, len(hashes)))
    straight, stored, first = CompactRange(), MemoryNodes(), CompactRange()
    for leaf in hashes:
        straight.append(leaf)
    for leaf in hashes[:cut]:
        stored.append(first, leaf)
    saved_size, saved = first.size, first.to_hashes()
    for restored in (
        CompactRange.from_hashes(saved_size, saved),
        CompactRange.from_reader(saved_size, stored),
    ):
        assert restored.root() == first.root()
        for leaf in hashes[cut:]:
            restored.append(leaf)
        assert restored.size == straight.size
        assert restored.to_hashes() == straight.to_hashes()
        assert restored.root() == straight.root()


def _flip(value: bytes, bit: int) -> bytes:
    i, b = divmod(bit % (8 * len(value)), 8)
    return value[:i] + bytes([value[i] ^ (1 << b)]) + value[i + 1:]


@functools.lru_cache(maxsize=8)
def _big_tree(n: int) -> tuple[list[bytes], MemoryNodes]:
    hashes = [leaf_hash(b"leaf %d" % i) for i in range(n)]
    return hashes, MemoryNodes.from_leaves(hashes)


BIG = 3000
sizes = st.integers(1, BIG)
settings_ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@settings_
@given(st.data())
def test_inclusion_proof_verifies_and_tampering_fails(draw: st.DataObject) -> None:
    hashes, store = _big_tree(BIG)
    n = draw.draw(sizes, "size")
    m = draw.draw(st.integers(0, n - 1), "index")
    root = root_at(store, n)
    proof = inclusion_proof(m, n, store)
    verify_inclusion(hashes[m], m, n, proof, root)

    kind = draw.draw(st.sampled_from(["leaf", "index", "size", "root", "element", "drop", "add"]))
    leaf, index, size, bad = hashes[m], m, n, list(proof)
    if kind == "leaf":
        leaf = _flip(leaf, draw.draw(st.integers(0, 255)))
    elif kind == "index":
        index = draw.draw(st.integers(0, BIG).filter(lambda i: i != m))
    elif kind == "size":
        size = draw.draw(st.integers(0, 2 * BIG).filter(lambda s: s != n))
    elif kind == "root":
        root = _flip(root, draw.draw(st.integers(0, 255)))
    elif kind == "element" and proof:
        i = draw.draw(st.integers(0, len(proof) - 1))
        bad[i] = _flip(bad[i], draw.draw(st.integers(0, 255)))
    elif kind == "drop" and proof:
        del bad[draw.draw(st.integers(0, len(proof) - 1))]
    else:
        bad.insert(draw.draw(st.integers(0, len(proof))), draw.draw(st.binary(min_size=32, max_size=32)))

    if kind == "size" and ref_verify_inclusion(leaf, index, size, bad, root):
        # RFC 6962 binds the size only through the path's shape: a size whose path has the same
        # shape verifies too (the signed checkpoint binds root and size together).
        verify_inclusion(leaf, index, size, bad, root)
        return
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, bad, root)


@settings_
@given(st.data())
def test_consistency_proof_verifies_and_tampering_fails(draw: st.DataObject) -> None:
    _, store = _big_tree(BIG)
    n = draw.draw(sizes, "n")
    m = draw.draw(st.integers(1, n), "m")
    root_m, root_n = root_at(store, m), root_at(store, n)
    proof = consistency_proof(m, n, store)
    verify_consistency(m, n, root_m, root_n, proof)

    kind = draw.draw(st.sampled_from(["m", "n", "root_m", "root_n", "element", "drop", "add"]))
    a, b, bad = m, n, list(proof)
    if kind == "m":
        a = draw.draw(st.integers(0, 2 * BIG).filter(lambda s: s != m))
    elif kind == "n":
        b = draw.draw(st.integers(0, 2 * BIG).filter(lambda s: s != n))
    elif kind == "root_m":
        root_m = _flip(root_m, draw.draw(st.integers(0, 255)))
    elif kind == "root_n":
        root_n = _flip(root_n, draw.draw(st.integers(0, 255)))
    elif kind == "element" and proof:
        i = draw.draw(st.integers(0, len(proof) - 1))
        bad[i] = _flip(bad[i], draw.draw(st.integers(0, 255)))
    elif kind == "drop" and proof:
        del bad[draw.draw(st.integers(0, len(proof) - 1))]
    else:
        bad.insert(draw.draw(st.integers(0, len(proof))), draw.draw(st.binary(min_size=32, max_size=32)))

    if kind in ("m", "n") and ref_verify_consistency(a, b, root_m, root_n, bad):
        verify_consistency(a, b, root_m, root_n, bad)  # same shape, as for inclusion
        return
    with pytest.raises(ProofError):
        verify_consistency(a, b, root_m, root_n, bad)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 300), st.integers(0, 300), st.lists(st.binary(min_size=32, max_size=32), max_size=12),
    st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
)
def test_verifiers_agree_with_reference_on_arbitrary_input(
    m: int, n: int, proof: list[bytes], r1: bytes, r2: bytes
) -> None:
    """Random input: our RFC 9162 verifiers agree with the RFC 6962-recursion ones."""
    try:
        verify_inclusion(r1, m, n, proof, r2)
        ok = True
    except ProofError:
        ok = False
    assert ok == ref_verify_inclusion(r1, m, n, proof, r2)
    try:
        verify_consistency(m, n, r1, r2, proof)
        ok = True
    except ProofError:
        ok = False
    assert ok == ref_verify_consistency(m, n, r1, r2, proof)
