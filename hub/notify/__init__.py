"""Notifications (DESIGN.md §4.6a): cards reach the responsible department, the monthly report
reaches the leaders.

================  ========================================================================
``config``        ``DATA/notify.yaml``: SMTP, SMS gateway, retries, the monthly report (strict)
``schema``        the ``notify_*`` tables in the hub database (the durable outbox, the inbox)
``backoff``       the retry delay (pure)
``messages``      the words of a notification, from a card or a report (pure)
``recipients``    who gets what: department contacts, preferences, leaders
``outbox``        enqueue, claim, mark sent / retry / gave up — each audited
``channels``      delivery: the UI inbox, e-mail (smtplib), SMS (an HTTP webhook)
``feed``          new cards, escalations and 督办 notices read from the supervision tables
``monthly``       the monthly report on the first working day of the month (official calendar)
``service``       the notifier thread in the hub process
``inbox``         the inbox and the preferences, as the web pages read them
================  ========================================================================
"""
