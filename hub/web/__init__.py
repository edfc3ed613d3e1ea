"""The hub's web UI, JSON API, live stream (SSE) and metrics.

``hub.web.app.create_app(config)`` builds the Flask application. The event bus
(:mod:`hub.web.events`) and the metrics registry (:mod:`hub.web.metrics`) import no Flask, so the
ingest and the scheduler can publish to them from their own threads.
"""
