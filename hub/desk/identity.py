"""The desk's identity: an agent of the hub's own (``hub-desk`` at the bureau's site ``hub-bureau``)
with its own Ed25519 key, registered in the registry like any agent's key.

The key (``DATA/desk.key``, PEM PKCS#8, mode 0600) is made at the desk's first start and never
overwritten; its public half is registered as the key of agent ``hub-desk``. The hub's checkpoint
key (``DATA/hub.key``) is a different key: records entered at the hub are signed by the desk as an
agent's records are signed by that agent, and the ledger the hub signs holds them like any other.
The desk never logs in to the broker: the broker password made by the registration is thrown
away (nobody holds it), so the broker accepts nothing under the desk's name.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.desk import DESK_AGENT
from provisioning.hubkey import load_or_create_key
from provisioning.identity import public_key_bytes
from provisioning.registry import Registry
from shared.errors import ConfigError

DESK_SITE = "hub-bureau"
DESK_SITE_NAME = "监察局受理台 / the bureau's desk"
KEY_FILE = "desk.key"


def load_desk_key(data_dir: Path) -> Ed25519PrivateKey:
    """The desk's key (``DATA/desk.key``), created on first use."""
    return load_or_create_key(data_dir / KEY_FILE)


def ensure_registered(registry: Registry, key: Ed25519PrivateKey) -> None:
    """Register the bureau's site and the desk agent with ``key`` if they are not yet; refuse a desk
    agent registered with another key or revoked (its records would no longer verify)."""
    public = public_key_bytes(key)
    if DESK_SITE not in {s.site_id for s in registry.sites()}:
        registry.add_site(DESK_SITE, DESK_SITE_NAME)
    agent = registry.agent(DESK_AGENT)
    if agent is None:
        registry.add_agent(DESK_AGENT, DESK_SITE, public, name="监察局受理台")  # the password is discarded
        return
    if not agent.active:
        raise ConfigError(
            f"agent {DESK_AGENT!r} (the hub's desk) was revoked on {agent.revoked_at}: complaints and "
            "disclosure requests cannot be entered at the hub while it is"
        )
    if agent.public_key != public:
        raise ConfigError(
            f"agent {DESK_AGENT!r} is registered with another key than DATA/{KEY_FILE}: the desk's key "
            "was replaced or the id is taken by a real agent; restore the desk's key file"
        )
