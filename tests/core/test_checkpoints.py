"""Signed checkpoints: signatures that only the key can make, and what they reveal of a chain."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    Ed25519Key,
    LoadedCheckpoint,
    judge,
    new_key_text,
    parse_key,
    sign_checkpoint,
    signature_valid,
    start_checkpoint,
)

AT = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
ALGORITHMS = ["ed25519", "hmac-sha256"]


def _key(algorithm: str):  # type: ignore[no-untyped-def]
    return parse_key(new_key_text(algorithm))  # type: ignore[arg-type]


def _cp(key, seq: int, head: str) -> Checkpoint:  # type: ignore[no-untyped-def]
    return sign_checkpoint(key, seq=seq, head_hash=head, created_at=AT, database="db")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_signed_checkpoint_verifies_and_survives_its_json_form(algorithm: str) -> None:
    key = _key(algorithm)
    cp = _cp(key, 42, "ab" * 32)
    again = Checkpoint.from_json(cp.to_json())
    assert again == cp and signature_valid(key, again)
    assert cp.algorithm == algorithm and cp.key_id == key.key_id


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "change",
    [
        {"seq": 43},
        {"head_hash": "cd" * 32},
        {"created_at": "2027-01-01T00:00:00.000000+00:00"},
        {"database": "other"},
    ],
)
def test_changing_any_signed_field_breaks_the_signature(algorithm: str, change: dict) -> None:  # type: ignore[type-arg]
    key = _key(algorithm)
    forged = dataclasses.replace(_cp(key, 42, "ab" * 32), **change)
    assert not signature_valid(key, forged)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_another_key_of_the_same_kind_cannot_sign_for_this_one(algorithm: str) -> None:
    key, mallory = _key(algorithm), _key(algorithm)
    forged = _cp(mallory, 42, "ab" * 32)
    assert not signature_valid(key, forged)
    # Relabelled with the real key's id, the signature still fails.
    assert not signature_valid(key, dataclasses.replace(forged, key_id=key.key_id))


def test_an_hmac_signature_does_not_pass_as_ed25519_or_the_reverse() -> None:
    ed, mac = _key("ed25519"), _key("hmac-sha256")
    assert not signature_valid(ed, _cp(mac, 1, "a" * 64))
    assert not signature_valid(mac, _cp(ed, 1, "a" * 64))


def test_an_ed25519_public_key_verifies_but_cannot_sign() -> None:
    key = _key("ed25519")
    assert isinstance(key, Ed25519Key)
    public = parse_key(key.public_pem())
    assert not public.can_sign and public.key_id == key.key_id
    assert signature_valid(public, _cp(key, 7, "e" * 64))
    with pytest.raises(CheckpointFormatError):
        public.sign(b"x")


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"hmac-sha256:zz", b"hmac-sha256:" + b"ab" * 8, b"-----BEGIN X"]
)
def test_unusable_key_files_are_refused(data: bytes) -> None:
    with pytest.raises(CheckpointFormatError):
        parse_key(data)


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"format": "x"}', "not json"])
def test_unreadable_checkpoint_files_are_refused(text: str) -> None:
    with pytest.raises(CheckpointFormatError):
        Checkpoint.from_json(text)


# --- judge: what the checkpoints say about the chain -------------------------------------------

KEY = _key("hmac-sha256")
H = {seq: f"{seq:064x}" for seq in range(1, 200)}  # the chain as signed: seq -> hash


def _loaded(*seqs: int, heads: dict[int, str] | None = None) -> list[LoadedCheckpoint]:
    heads = heads or H
    return [LoadedCheckpoint(f"cp{s}", _cp(KEY, s, heads[s]), True) for s in seqs]


def test_a_chain_that_agrees_with_every_checkpoint_has_no_findings() -> None:
    assert judge(_loaded(10, 50, 100), 120, H) == []
    assert start_checkpoint(_loaded(10, 50, 100), 120, H).seq == 100  # type: ignore[union-attr]


def test_a_tail_cut_below_a_checkpoint_is_truncation_from_the_new_head() -> None:
    [finding] = judge(_loaded(10, 50, 100), 80, H)
    assert finding.kind == "truncated" and finding.seq == 81
    assert "81..100" in finding.reason
    assert start_checkpoint(_loaded(10, 50, 100), 80, H).seq == 50  # type: ignore[union-attr]


def test_a_rewrite_is_placed_after_the_newest_checkpoint_that_still_agrees() -> None:
    rewritten = {**H, **{s: f"{s:064x}"[::-1] for s in range(60, 200)}}
    [finding] = judge(_loaded(10, 50, 100, 150), 199, rewritten)
    assert finding.kind == "rewritten" and finding.seq == 51 and "51..100" in finding.reason
    assert start_checkpoint(_loaded(10, 50, 100, 150), 199, rewritten).seq == 50  # type: ignore[union-attr]


def test_a_forged_checkpoint_is_reported_and_not_trusted() -> None:
    mallory = _key("hmac-sha256")
    loaded = [*_loaded(10), LoadedCheckpoint("evil", _cp(mallory, 300, "f" * 64), False)]
    [finding] = judge(loaded, 120, H)
    assert finding.kind == "forged" and finding.seq == 300  # not read as truncation
    assert start_checkpoint(loaded, 120, H).seq == 10  # type: ignore[union-attr]


def test_an_unreadable_checkpoint_is_a_finding_without_a_sequence_number() -> None:
    [finding] = judge([LoadedCheckpoint("junk.json", None, False, "not json")], 5, H)
    assert finding.kind == "forged" and finding.seq is None and "junk.json" in finding.reason


@given(
    head=st.integers(0, 199),
    cps=st.sets(st.integers(1, 199), max_size=8),
    cut=st.integers(1, 199),
)
def test_findings_name_the_first_sequence_number_a_checkpoint_no_longer_vouches_for(
    head: int, cps: set[int], cut: int
) -> None:
    """Rewrite everything from `cut` on and cut the chain at `head`: the reference answer."""
    chain = {s: (H[s] if s < cut else "0" * 64) for s in range(1, head + 1)}
    findings = judge(_loaded(*sorted(cps)), head, chain)
    broken_by_rewrite = [s for s in cps if cut <= s <= head]
    truncated = [s for s in cps if s > head]
    expected = []
    if broken_by_rewrite:
        expected.append(max([0] + [s for s in cps if s < cut]) + 1)
    if truncated:
        expected.append(head + 1)
    assert sorted(f.seq for f in findings) == sorted(expected)  # type: ignore[type-var]
