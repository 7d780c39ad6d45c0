"""Deterministic simulation: whole worlds and fault schedules drawn from a seed, run on a
real chain against the invariants, failures shrunk to a readable scenario file.

    rng.py       run K's seed from the campaign seed; SplitMix64 draws (ints only)
    generate.py  one generator per event kind (registered like the model's kinds), the
                 universe, the strategy and its parameters; weights a user can change
    emit.py      documents written as scenario files
    execute.py   one run in a worker (its own node and world snapshot), optional coverage
    shrink.py    passes that cut a failing scenario down while it fails the same way
    campaign.py  generations, executors (in process, local processes), corpus, summary
    cluster.py   the same on a Dask cluster
    cli.py       `harness fuzz`
"""
