"""Hall cameras at the agent (DESIGN.md §4.7, issue 6).

    config      camera profiles (firmware_configs/cameras/*.yaml), strict loader
    synthetic   a deterministic synthetic hall (clerks, queue, lighting) for the demo and the tests
    source      RTSP / device / file / synthetic sources; the reader thread (blocking reads live there)
    watchdog    stale/dead feed detection and reconnection with backoff (pure) + its thread adapter
    presence    presence and queue decisions (pure: numpy arrays and timestamps in, decisions out)
    detect      the OpenCV detectors (Haar faces, HOG people) and the downscaled gray frame
    analytics   one camera's analytics: frames in, presence.* / queue.long events out
    events      the event bodies (float-free, +08:00 times)
    snapshot    evidence JPEGs addressed by their SHA-256
    pipeline    one camera end to end, with start/stop
    rtc         the camera's VP8 track (aiortc, no STUN)
    publisher   answers the hub relay's offers: one upstream per camera, only while watched
    service     the cameras wired into the agent: records, heartbeat, signalling (docs/video.md)
    stamp       a machine-readable timestamp burnt into frames (latency measurement)
"""
