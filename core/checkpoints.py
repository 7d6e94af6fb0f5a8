"""Signed checkpoints of the audit chain, and what comparing them with the chain reveals.

The hash chain alone proves only that the rows agree with each other: whoever can write the
table can cut off its tail, or rewrite it and recompute every hash after the change. A
checkpoint, signed with a key that never enters the database and kept outside it, fixes the
head of the chain (sequence number and hash) at a point in time; a verifier that trusts the
key can then tell a truncated or rewritten chain from an intact one. No I/O here: loading
keys and files, and reading the chain, are the caller's job (`core/audit_trail.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

FORMAT = "driftgate.audit.checkpoint/1"
Algorithm = Literal["ed25519", "hmac-sha256"]
_HMAC_PREFIX = b"hmac-sha256:"


class CheckpointFormatError(ValueError):
    """A checkpoint or key file that cannot be read as one."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed."""

    seq: int
    head_hash: str
    created_at: str  # ISO 8601, UTC
    database: str
    algorithm: str
    key_id: str
    signature: str  # base64

    def message(self) -> bytes:
        """The signed bytes: every field but the signature, with the format, canonical."""
        fields = asdict(self)
        del fields["signature"]
        fields["format"] = FORMAT
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
            if data.pop("format") != FORMAT:
                raise CheckpointFormatError("unknown checkpoint format")
            cp = cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointFormatError(f"not a checkpoint: {exc}") from exc
        if not isinstance(cp.seq, int) or cp.seq < 1 or not isinstance(cp.head_hash, str):
            raise CheckpointFormatError("not a checkpoint: bad seq or head_hash")
        return cp


class CheckpointKey:
    """A signing (or, for an Ed25519 public key, verify-only) key."""

    algorithm: Algorithm
    key_id: str
    can_sign: bool

    def sign(self, message: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, message: bytes, signature: bytes) -> bool:
        raise NotImplementedError


class HmacKey(CheckpointKey):
    """HMAC-SHA256: one secret both signs and verifies (the verifier must keep it secret too)."""

    algorithm: Algorithm = "hmac-sha256"
    can_sign = True

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise CheckpointFormatError("an HMAC checkpoint key needs at least 32 bytes")
        self._secret = secret
        # Names the key without revealing it: a hash of a 256-bit secret.
        self.key_id = hashlib.sha256(b"driftgate-checkpoint-key:" + secret).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


class Ed25519Key(CheckpointKey):
    """Ed25519: the private key signs; the public key alone verifies (auditors need no secret)."""

    algorithm: Algorithm = "ed25519"

    def __init__(self, private: Any = None, public: Any = None) -> None:
        from cryptography.hazmat.primitives import serialization

        self._private = private
        self._public = public if public is not None else private.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.can_sign = private is not None

    def sign(self, message: bytes) -> bytes:
        if self._private is None:
            raise CheckpointFormatError("a public key cannot sign checkpoints")
        signature: bytes = self._private.sign(message)
        return signature

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


def new_key_text(algorithm: Algorithm) -> bytes:
    """The contents of a fresh key file: an Ed25519 private key (PEM) or an HMAC secret."""
    if algorithm == "hmac-sha256":
        return _HMAC_PREFIX + secrets.token_hex(32).encode() + b"\n"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def parse_key(data: bytes) -> CheckpointKey:
    """A key from a key file: `hmac-sha256:<hex>`, or an Ed25519 private or public PEM key."""
    text = data.strip()
    if text.startswith(_HMAC_PREFIX):
        try:
            return HmacKey(bytes.fromhex(text[len(_HMAC_PREFIX) :].decode()))
        except ValueError as exc:
            raise CheckpointFormatError("the HMAC key is not hex") from exc
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    try:
        if b"PUBLIC KEY" in text:
            public = serialization.load_pem_public_key(text)
            if isinstance(public, Ed25519PublicKey):
                return Ed25519Key(public=public)
        else:
            private = serialization.load_pem_private_key(text, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return Ed25519Key(private=private)
    except (ValueError, TypeError) as exc:
        raise CheckpointFormatError(f"not a checkpoint key: {exc}") from exc
    raise CheckpointFormatError("not an Ed25519 or hmac-sha256 checkpoint key")


def sign_checkpoint(
    key: CheckpointKey, *, seq: int, head_hash: str, created_at: datetime, database: str
) -> Checkpoint:
    unsigned = Checkpoint(
        seq=seq,
        head_hash=head_hash,
        created_at=created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        database=database,
        algorithm=key.algorithm,
        key_id=key.key_id,
        signature="",
    )
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def signature_valid(key: CheckpointKey, checkpoint: Checkpoint) -> bool:
    """Whether `key` signed exactly this checkpoint (its algorithm and key id included)."""
    if checkpoint.algorithm != key.algorithm or checkpoint.key_id != key.key_id:
        return False
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except ValueError:
        return False
    return key.verify(checkpoint.message(), signature)


# --- judging the chain against its checkpoints ------------------------------------------------


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint file as read: its name, the checkpoint if it parsed, and its signature."""

    name: str
    checkpoint: Checkpoint | None
    valid: bool
    error: str | None = None


FindingKind = Literal["forged", "truncated", "rewritten", "chain"]


@dataclass(frozen=True)
class Finding:
    """One thing that is wrong, and the first sequence number it leaves unvouched for."""

    kind: FindingKind
    seq: int | None
    reason: str


def trusted(loaded: Sequence[LoadedCheckpoint]) -> list[Checkpoint]:
    """The checkpoints whose signatures hold, by sequence number."""
    good = [item.checkpoint for item in loaded if item.valid and item.checkpoint is not None]
    return sorted(good, key=lambda cp: (cp.seq, cp.created_at))


def start_checkpoint(
    loaded: Sequence[LoadedCheckpoint], head_seq: int, stored: Mapping[int, str]
) -> Checkpoint | None:
    """The newest trusted checkpoint the chain agrees with: where incremental verify starts."""
    for cp in reversed(trusted(loaded)):
        if cp.seq <= head_seq and stored.get(cp.seq) == cp.head_hash:
            return cp
    return None


def judge(
    loaded: Sequence[LoadedCheckpoint], head_seq: int, stored: Mapping[int, str]
) -> list[Finding]:
    """What the checkpoints say about a chain whose head is `head_seq`.

    `stored` holds the chain's hash at each checkpoint's sequence number (absent where no
    event has it). A checkpoint whose signature fails is reported as forged and otherwise
    ignored. A trusted checkpoint past the head means the tail was cut off; one whose hash
    the chain no longer has means the chain was rewritten at or before it, after the newest
    earlier checkpoint that still agrees.
    """
    findings = [_forged(item) for item in loaded if not item.valid]
    good = trusted(loaded)
    beyond = [cp for cp in good if cp.seq > head_seq]
    if beyond:
        last = beyond[-1]
        findings.append(
            Finding(
                "truncated",
                head_seq + 1,
                f"the chain ends at seq {head_seq}, but a checkpoint signed at "
                f"{last.created_at} vouches for seq {last.seq}: events {head_seq + 1}.."
                f"{last.seq} were removed",
            )
        )
    agreed = 0
    for cp in good:
        if cp.seq > head_seq:
            break
        if stored.get(cp.seq) == cp.head_hash:
            agreed = max(agreed, cp.seq)
            continue
        findings.append(
            Finding(
                "rewritten",
                agreed + 1,
                f"the chain's hash at seq {cp.seq} differs from the one signed at "
                f"{cp.created_at}: events {agreed + 1}..{cp.seq} were rewritten",
            )
        )
        break  # later checkpoints only repeat it
    return sorted(findings, key=lambda f: (f.seq is None, f.seq or 0))


def _forged(item: LoadedCheckpoint) -> Finding:
    if item.checkpoint is None:
        return Finding("forged", None, f"checkpoint {item.name} is unreadable: {item.error}")
    return Finding(
        "forged",
        item.checkpoint.seq,
        f"checkpoint {item.name} (seq {item.checkpoint.seq}) has a signature that does not "
        "verify with the configured key: forged, corrupted or signed by another key",
    )
