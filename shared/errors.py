"""One exception hierarchy for the whole product.

Every error a caller can act on derives from :class:`XiaonengError`; parsers of bytes that come from
outside (the network, a database, a file) raise only these.

    XiaonengError
    ├── ConfigError              a config file or value is wrong (names the key and the file)
    ├── RecordError              a record, batch or message is malformed (cannot be parsed or encoded)
    │   └── CanonicalError       a value cannot be put in canonical form (float, huge int, bad key)
    ├── VerificationError        well-formed, but not authentic or not consistent; has a ``reason``
    │   ├── UnknownAgentError    the agent (or its key) is not registered, or is revoked
    │   ├── SignatureError       the batch signature does not verify
    │   ├── ChainError           a record's ``prev`` does not link to its predecessor
    │   ├── EquivocationError    same (agent, stream, seq), different hash: a security alert
    │   └── ReplayError          an old, already stored batch sent again
    ├── ProofError               a Merkle proof or checkpoint does not verify
    ├── OutboxFullError          the agent's outbox reached its bound; the record was NOT accepted
    └── ProvisioningError        a site, agent or credential operation failed (says which and why)
"""

from __future__ import annotations


class XiaonengError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(XiaonengError):
    """A configuration file or value is invalid."""


class RecordError(XiaonengError):
    """A record, batch or message could not be parsed or encoded."""


class CanonicalError(RecordError):
    """A value has no canonical (RFC 8785, float-free) form."""


class VerificationError(XiaonengError):
    """Authentic-looking input that fails verification. ``reason`` is a stable machine word."""

    reason = "verification_failed"


class UnknownAgentError(VerificationError):
    reason = "unknown_agent"


class SignatureError(VerificationError):
    reason = "bad_signature"


class ChainError(VerificationError):
    reason = "broken_chain"


class EquivocationError(VerificationError):
    reason = "equivocation"


class ReplayError(VerificationError):
    reason = "replay"


class ProofError(XiaonengError):
    """A Merkle inclusion/consistency proof or a checkpoint does not verify."""


class OutboxFullError(XiaonengError):
    """The outbox is at its configured bound; the caller must retry later (nothing was dropped)."""


class ProvisioningError(XiaonengError):
    """A provisioning operation failed."""
