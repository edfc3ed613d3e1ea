"""Read models of the UI and API: plain functions over a database connection, no Flask.

``links``, ``devices``, ``quarantine`` read the tables of ingest and provisioning; ``supervision``
is the plug-in point of the supervision engine (cases, cards, rankings, reports).
"""
