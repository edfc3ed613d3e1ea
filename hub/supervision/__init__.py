"""The hub-side adapter of the supervision engine: service, persistence, read models.

==================  =============================================================================
``schema``          the supervision tables in ``DATA/hub.sqlite`` (created if absent)
``rows``            a case's row: status, due dates, outcome; its aggregate contributions
``store``           :class:`Changes` and the one-transaction :func:`write`
``timing``          :class:`Hold` (event-time hold of ticks) and :class:`StatusClock`
``feed``            :class:`Feeder`: records → engine → changes; re-reading forgotten cases
``replay``          restart: restore cards, replay live subjects
``service``         :class:`SupervisorService`: the thread, ticks, card actions, calendar reload
``publish``         bus events and MQTT ``xn/v1/hub/alerts``
``overview``        the wall's figures from the aggregates
``facts``           scoring facts of a period from the database; ranked rows
``caseviews``       the case board and one case (clock, timeline with verification)
``cardviews``       the card queue and one card
``queries``         :class:`SupervisionProvider`, the web's ``SupervisionQueries``
``cli``             ``calendar load --data`` and ``report`` commands of ``xiaoneng-hub``
==================  =============================================================================

See ``docs/supervision.md``.
"""
