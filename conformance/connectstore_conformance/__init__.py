"""connectstore-conformance: the suite that tells whether a store honours the connect store contract.

Subclass :class:`StoreConformance` and provide an async ``store`` fixture that yields a fresh,
empty store; every clause of the contract becomes a test. See the README for the options.
"""

from connectstore_conformance.base import ConformanceBase, requires
from connectstore_conformance.closing import CloseChecks
from connectstore_conformance.conditional import ConditionalWriteChecks
from connectstore_conformance.conditional_races import ConditionalRaceChecks
from connectstore_conformance.corruption import CorruptRecordChecks
from connectstore_conformance.hostile import ConcurrencyChecks, HostileSidChecks
from connectstore_conformance.memory import ListingMemoryChecks
from connectstore_conformance.model import ModelChecks, store_state_machine
from connectstore_conformance.optional import ListingChecks, TouchChecks
from connectstore_conformance.outage import OutageChecks
from connectstore_conformance.required import RequiredMethodChecks
from connectstore_conformance.sessions import EVERY_JSON_TYPE, HOSTILE_SIDS, make_session, without_cookie

__all__ = [
    "EVERY_JSON_TYPE",
    "HOSTILE_SIDS",
    "CloseChecks",
    "ConcurrencyChecks",
    "ConditionalRaceChecks",
    "ConditionalWriteChecks",
    "ConformanceBase",
    "CorruptRecordChecks",
    "HostileSidChecks",
    "ListingChecks",
    "ListingMemoryChecks",
    "ModelChecks",
    "OutageChecks",
    "RequiredMethodChecks",
    "StoreConformance",
    "TouchChecks",
    "make_session",
    "requires",
    "store_state_machine",
    "without_cookie",
]


class StoreConformance(
    ListingMemoryChecks,
    OutageChecks,
    CorruptRecordChecks,
    ModelChecks,
    ConditionalRaceChecks,
    ConcurrencyChecks,
    CloseChecks,
    HostileSidChecks,
    ConditionalWriteChecks,
    ListingChecks,
    TouchChecks,
    RequiredMethodChecks,
):
    """Every check of the store contract. Subclass it and provide the ``store`` fixture.

    (pytest runs the checks of the last base first: required methods come first.)
    """
