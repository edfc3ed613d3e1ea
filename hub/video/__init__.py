"""The hub's video relay (DESIGN.md §4.7, issue 6): one WebRTC upstream per watched camera from its
agent, forwarded without re-encoding to the browsers of the video wall.

    errors    what a watch request can fail with (pure; the web layer imports it)
    config    DATA/video.yaml
    fanout    encoded frames to per-viewer queues, keyframe-aligned (pure)
    forward   the aiortc adapters: tap a receiver's encoded frames, a track that sends them as is
    stream    a camera stream, its upstream link, its viewers (state)
    relay     the relay itself (asyncio thread; thread-safe API)
    service   wiring into the hub process (ingest, web app, metrics)
"""
