"""The sample catalogue: the simulated city's items (``simulator.catalogue``) as catalogue items,
so that a demo hub can import the catalogue its simulator's cases refer to."""

from __future__ import annotations

from hub.catalogue.model import CatalogueItem, Limit


def sample_items(seed: int = 1, departments: int = 20) -> list[CatalogueItem]:
    """The items of ``xiaoneng-sim``'s catalogue for ``seed`` (legal basis left empty: the
    simulator does not record one)."""
    from simulator.catalogue import build_catalogue

    catalogue = build_catalogue(seed, departments)
    return [
        CatalogueItem(i.code, i.name, i.dept_code, Limit(i.statutory.value, i.statutory.unit),
                      Limit(i.promised.value, i.promised.unit), i.fee_fen, "")
        for i in catalogue.items
    ]  # fmt: skip
