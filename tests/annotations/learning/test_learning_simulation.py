"""simulate_active_learning on the demo project with a tiny model: one JSON line per round, fixed
held-out clips never revealed, runs stored for the dashboard."""

import json

import pytest
from django.core.management import call_command

from annotations.learning.simulation import frames_to_reach
from annotations.models import SimulationRun

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

TINY = ["--rounds", "2", "--batch", "5", "--seed-frames", "6", "--keypoint-epochs", "1", "--keypoint-steps", "4",
        "--input-size", "32x48", "--width", "8", "--form-epochs", "10", "--backbone", "scratch"]


def simulate(capsys, strategy: str, seed: int = 3) -> list[dict]:
    call_command("simulate_active_learning", "demo", "--strategy", strategy, "--seed", str(seed), *TINY)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_both_strategies_start_alike_reveal_k_frames_per_round_and_never_touch_held_out_clips(imported, capsys):
    rows = {s: simulate(capsys, s) for s in ("uncertainty", "random")}
    for strategy, lines in rows.items():
        assert [r["round"] for r in lines] == [0, 1]
        assert [r["labelled_frames"] for r in lines] == [6, 11]
        run = SimulationRun.objects.get(strategy=strategy)
        assert run.finished and run.rounds == lines and run.seed == 3 and run.batch == 5
        held = set(run.heldout_clips)
        assert held and all(not held & set(r["labelled_clips"]) for r in lines)
        for r in lines:
            assert 0 <= r["keypoints"]["mean_oks"] <= 1 and 0 <= r["form"]["f1_macro"] <= 1
            assert r["heldout_frames"] > 0 and r["keypoint_epochs"] == 4
    # Same seed: same seed set and the same held-out clips for both strategies.
    assert rows["uncertainty"][0]["labelled_clips"] == rows["random"][0]["labelled_clips"]
    assert SimulationRun.objects.get(strategy="random").heldout_clips == \
        SimulationRun.objects.get(strategy="uncertainty").heldout_clips


def test_an_unknown_project_or_strategy_is_refused(imported):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("simulate_active_learning", "nope", "--strategy", "random")
    with pytest.raises(CommandError):
        call_command("simulate_active_learning", "demo", "--strategy", "random", "--batch", "0")


def test_frames_to_reach_95_percent_of_the_final_quality():
    rounds = [{"labelled_frames": n, "keypoints": {"mean_oks": v}} for n, v in
              [(10, 0.3), (25, 0.58), (40, 0.57), (55, 0.6)]]
    assert frames_to_reach(rounds, "keypoints", "mean_oks") == 25  # 0.58 >= 0.95 * 0.6
    assert frames_to_reach(rounds, "form", "f1_macro") is None
