"""Campaigns on real chains: a short one per backend that must pass, the same verdicts for
any worker count and on a local Dask cluster, run K replayed alone, coverage and a corpus."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from harness.fuzz.campaign import CampaignOptions, InlineExecutor, fresh, run_campaign
from harness.fuzz.execute import Job, execute
from harness.fuzz.generate import FuzzConfig, load_weights

SMOKE = Path(__file__).resolve().parents[1] / "fuzz" / "smoke-weights.yaml"
SEED = 7


def _config(backend: str, days: int = 3) -> FuzzConfig:
    return FuzzConfig(backend=backend, until=timedelta(days=days), weights=load_weights(str(SMOKE)))


@pytest.mark.parametrize(("backend", "runs", "days"), [("anvil", 36, 3), ("eth-tester", 16, 2)])
def test_short_campaign_passes(backend: str, runs: int, days: int, tmp_path: Path) -> None:
    """The make-test campaign: a fixed seed, a few dozen runs, every invariant after every
    event, tick and trigger check; nothing may fail."""
    result = run_campaign(CampaignOptions(SEED, runs, _config(backend, days), regressions=tmp_path))
    summary = result.summary()
    assert summary["runs"] == runs and summary["events"] > runs and summary["invariant_checks"] > 10 * runs
    assert result.failures == [], [(v.run, v.signature, v.detail) for v in result.failures]
    assert not list(tmp_path.iterdir())


@pytest.mark.anvil
def test_worker_count_and_cluster_do_not_change_results(tmp_path: Path) -> None:
    """One seed, three ways to execute: in process, two local processes, a two-worker Dask
    cluster on loopback. Same documents, same verdicts, same digest."""
    from harness.fuzz.cluster import local_cluster

    config = _config("anvil", 2)
    base = CampaignOptions(SEED + 1, 10, config, generation=5, regressions=tmp_path)
    inline = run_campaign(base)
    two = run_campaign(CampaignOptions(SEED + 1, 10, config, workers=2, generation=5, regressions=tmp_path))
    with local_cluster(2) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        on_cluster = run_campaign(CampaignOptions(SEED + 1, 10, config, cluster=cluster.scheduler_address,
                                                  generation=5, regressions=tmp_path))
    outcomes = [v.outcome() for v in inline.verdicts]
    assert [v.outcome() for v in two.verdicts] == outcomes
    assert [v.outcome() for v in on_cluster.verdicts] == outcomes
    assert inline.digest() == two.digest() == on_cluster.digest()
    assert inline.summary()["invariant_checks"] > 0
    other = run_campaign(CampaignOptions(SEED + 2, 10, config, generation=5, regressions=tmp_path))
    assert other.digest() != inline.digest()  # the digest can tell campaigns apart


@pytest.mark.anvil
def test_run_k_replays_exactly(tmp_path: Path) -> None:
    config = _config("anvil", 2)
    campaign = run_campaign(CampaignOptions(SEED, 6, config, regressions=tmp_path))
    alone = run_campaign(CampaignOptions(SEED, 6, config, only_run=4, regressions=tmp_path))
    assert [v.run for v in alone.verdicts] == [4]
    assert alone.verdicts[0].outcome() == campaign.verdicts[4].outcome()
    assert alone.planned[4].text == campaign.planned[4].text == fresh(SEED, 4, config).text


@pytest.mark.anvil
def test_coverage_is_per_run_and_guides_the_campaign(tmp_path: Path) -> None:
    config = _config("anvil", 2)
    job = Job(0, 1, fresh(SEED, 0, config).text, "anvil", coverage=True)
    first, again = execute(job), execute(job)
    assert first.arcs and first.arcs == again.arcs  # the same run reaches the same arcs, whatever ran before
    corpus = tmp_path / "corpus"
    options = CampaignOptions(SEED, 8, config, coverage=True, corpus=corpus, generation=4, regressions=tmp_path)
    result = run_campaign(options)
    cov = result.summary()["coverage"]
    assert 0 < cov["branches_covered"] < cov["branches"] and cov["corpus_added"] >= 1
    assert len(list(corpus.glob("*.yaml"))) == cov["corpus_added"]
    assert any(p.parent is not None for p in result.planned.values())  # generation 2 mutated the corpus
    # a second campaign starts from the corpus the first one kept
    resumed = run_campaign(CampaignOptions(SEED + 5, 4, config, coverage=True, corpus=corpus, generation=4,
                                           regressions=tmp_path))
    assert any(p.parent is not None for p in resumed.planned.values())


@pytest.mark.anvil
def test_cli_campaign_json_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    out = tmp_path / "summary.json"
    code = main(["fuzz", "--seed", str(SEED), "--runs", "3", "--until", "2d", "--weights", str(SMOKE),
                 "--json", str(out), "--regressions", str(tmp_path / "regressions")])
    text = capsys.readouterr().out
    assert code == 0, text
    summary = json.loads(out.read_text())
    assert summary["runs"] == 3 and summary["failures"] == 0 and len(summary["results"]) == 3
    assert "runs 3, events" in text and "digest" in text
    assert main(["fuzz", "--events", "deposit,rebse"]) == 2
    assert "no generated event kind 'rebse'" in capsys.readouterr().err
    assert main(["fuzz", "--corpus", str(tmp_path)]) == 2
    assert InlineExecutor().map([]) == []
