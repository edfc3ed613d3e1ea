"""The product's version: one place, read by setup.cfg (``attr:``), the CLIs' ``--version`` and the
one-file agent (which has no package metadata to ask)."""

VERSION = "0.1.0"
