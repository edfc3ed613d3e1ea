"""The supervision engine: statutory clocks, rules and cards, scheduler core, scoring.

Pure: no database, broker, web, threads or wall clock — every function takes the time it needs.
The hub's adapters feed it verified records and ticks and persist what it returns (see
``docs/engine.md``).

Modules, each one concept:

==================  =============================================================================
``localtime``       Asia/Shanghai dates and midnights
``arrangement``     one year's holiday-cn JSON, strictly validated
``calendar``        :class:`WorkCalendar` — working days and the precomputed day index
``clock``           due dates, remaining days, outcomes (DOMAIN.md §3) as index lookups
``caseclock``       :class:`CaseClock` — a case's clock state fed by its events
``clock_cli``       ``clock due`` / ``calendar check|load`` click commands
``config``          thresholds, rule switches, other clocks, scoring weights; YAML loader
``events``          typed views of the records the engine reacts to
``cases``           :class:`CaseState` — what rules evaluate an event against
``cards``           :class:`Card` and its lifecycle state machine
``rules``           R1–R11: event rules and time-rule moments
``windows``         R10 window absences
``disclosure``      information-disclosure request clocks (DOMAIN.md §6)
``complaints``      complaint clocks and substantiated-complaint flags (DOMAIN.md §6)
``scheduler``       next moment per subject in a heap; pops only what is due
``supervision``     :class:`Supervision` — the façade the adapters drive
``scoring``         the 100-point scheme, grades, rankings, 约谈 flags, explanations
==================  =============================================================================
"""

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Action, Card, CardDecision, CardState, InvalidTransition
from hub.engine.caseclock import CaseClock, SupplementMode
from hub.engine.clock import Due, Limit, Outcome, Pause, Unit, due_date
from hub.engine.config import EngineConfig, Level, load_config
from hub.engine.supervision import Supervision

__all__ = [
    "Action",
    "Card",
    "CardDecision",
    "CardState",
    "CaseClock",
    "Due",
    "EngineConfig",
    "InvalidTransition",
    "Level",
    "Limit",
    "Outcome",
    "Pause",
    "Supervision",
    "SupplementMode",
    "Unit",
    "WorkCalendar",
    "due_date",
    "load_config",
]
