"""bench/small_data.py: K texts per label drawn from the pool, and the table of means and spreads over seeds."""
from __future__ import annotations

import pandas as pd

from bench import small_data


def test_k_shot_takes_k_per_label_or_all_of_a_smaller_one_and_follows_the_seed():
    pool = pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": ["a"] * 20 + ["b"] * 7 + ["c"] * 3})
    drawn = small_data.k_shot(pool, 5, seed=1)
    assert drawn["label"].value_counts().to_dict() == {"a": 5, "b": 5, "c": 3}
    assert drawn.equals(small_data.k_shot(pool, 5, seed=1))
    assert not drawn.equals(small_data.k_shot(pool, 5, seed=2))


def test_tfidf_scores_the_held_out_rows(tmp_path):
    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    pd.DataFrame({"text": ["good fun", "great fun", "bad dull", "awful dull"],
                  "label": ["pos", "pos", "neg", "neg"]}).to_csv(train, index=False)
    pd.DataFrame({"text": ["fun", "dull"], "label": ["pos", "neg"]}).to_csv(val, index=False)
    assert small_data.tfidf_accuracy(train, val)["accuracy"] == 1.0


def test_the_probe_reads_the_frozen_default_model_and_scores_the_held_out_rows(tmp_path):
    from core.config import TrainConfig
    from core.models import resolve_model

    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    fruit = ["I ate a ripe banana", "fresh apples and pears", "a bowl of sweet cherries", "orange juice from oranges"]
    cars = ["the engine of my car stalled", "new tyres for the truck", "a diesel van on the motorway",
            "the bus broke down on the road"]
    pd.DataFrame({"text": fruit[:3] + cars[:3], "label": ["fruit"] * 3 + ["vehicle"] * 3}).to_csv(train, index=False)
    pd.DataFrame({"text": [fruit[3], cars[3]], "label": ["fruit", "vehicle"]}).to_csv(val, index=False)
    result = small_data.probe_accuracy(train, val, resolve_model(TrainConfig().model))
    assert (result["accuracy"], result["f1_macro"]) == (1.0, 1.0)


def test_the_table_gives_mean_spread_seconds_and_missing_seeds():
    rows = [{"dataset": "polarity", "k": 8, "seed": s, "recipe": "ours", "accuracy": a, "process_seconds": 10.0}
            for s, a in ((0, 0.6), (1, 0.7), (2, 0.8))]
    rows += [{"dataset": "polarity", "k": 8, "seed": 0, "recipe": "setfit", "accuracy": 0.65, "process_seconds": 30.0},
             {"dataset": "polarity", "k": 8, "seed": 1, "recipe": "setfit", "error": "over 900 s", "process_seconds": 900.0}]
    assert small_data.table(rows, ["ours", "setfit"], 3).splitlines()[2] == (
        "| polarity | 8 | 0.700 ± 0.100 (10 s) | 0.650 (30 s, 1 of 3 seeds) |")
