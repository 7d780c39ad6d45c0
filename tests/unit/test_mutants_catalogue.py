"""The planted-bug catalogue stays applicable as the runner moves on: every patch matches
exactly once, changes something, still compiles, and names scenarios that exist."""

from __future__ import annotations

import pytest

from tests.mutants.catalogue import CATALOGUE, REPO, Mutant, PatchDoesNotApply, patched_function


@pytest.mark.parametrize("mutant", CATALOGUE, ids=[m.id for m in CATALOGUE])
def test_patch_applies_once_and_compiles(mutant: Mutant) -> None:
    source = (REPO / mutant.file).read_text()
    planted = mutant.apply(source)
    assert source.count(mutant.old) == 1 and planted != source
    compile(planted, mutant.file, "exec")
    assert mutant.scenarios and all((REPO / s).is_file() for s in mutant.scenarios)
    _owner, name, fn = patched_function(mutant)  # the one function the bug changes, with the bug
    assert fn.__name__ == name


def test_ids_are_unique_and_every_area_is_covered() -> None:
    assert len({m.id for m in CATALOGUE}) == len(CATALOGUE) >= 12
    assert {"sync", "valuation", "execution", "repair", "triggers", "accounting", "state"} <= {m.area for m in CATALOGUE}


def test_a_patch_that_no_longer_matches_is_refused() -> None:
    stale = Mutant("stale", "sync", "gone", "runner/models/sync.py", "text the runner does not have", "x", ())
    with pytest.raises(PatchDoesNotApply, match="occurs 0 times"):
        stale.apply((REPO / stale.file).read_text())
    doubled = Mutant("doubled", "sync", "ambiguous", "runner/models/sync.py", "self", "this", ())
    with pytest.raises(PatchDoesNotApply, match="not once"):
        doubled.apply((REPO / doubled.file).read_text())
