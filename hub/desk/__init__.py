"""The hub's desk (受理台): complaints (投诉) and information-disclosure requests (政府信息公开) entered by
the monitoring room, stored as signed records of the desk's own stream (see :mod:`hub.desk.service`
and docs/supervision.md, "Complaints and disclosure requests entered at the hub")."""

#: The desk's agent id. Its records' ``ts`` is when someone typed them in, not when a department's
#: system recorded the fact: rule R8 (迟报) does not read it (hub.supervision.feed, replay).
DESK_AGENT = "hub-desk"
