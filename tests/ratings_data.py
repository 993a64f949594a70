"""A small regression table written for the tests: short product reviews with a 1.0-5.0 rating (one decimal), built
from phrases of five grades of opinion with a seeded generator: a review's phrases come from the grades next to its
rating, so the words say roughly, not exactly, how good the product was."""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

PHRASES = {
    1: ["it broke on the first day", "a complete waste of money", "the worst purchase I have made",
        "it stopped working after an hour", "customer service never answered"],
    2: ["it feels cheap and flimsy", "the battery dies far too quickly", "it arrived scratched",
        "the instructions were confusing", "it is noisier than I expected"],
    3: ["it does the job, nothing more", "average quality for the price", "some parts are fine, others are not",
        "it works but the design is dull", "delivery was slow but the item is okay"],
    4: ["it works well most of the time", "good value for the money", "solid build and easy to set up",
        "I would buy it again", "it is quiet and reliable"],
    5: ["absolutely love it", "the best thing I bought this year", "flawless and beautifully made",
        "it exceeded all my expectations", "perfect, I recommend it to everyone"],
}
PRODUCTS = ["kettle", "blender", "desk lamp", "headphones", "backpack", "toaster", "phone case", "keyboard",
            "coffee grinder", "rain jacket"]
OPENINGS = ["The {p}:", "Bought this {p} last month and", "My new {p} -", "This {p}?", "Review of the {p}:"]


def rating_rows(rows: int = 200, seed: int = 0) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        rating = round(rng.uniform(1.0, 5.0), 1)
        grades = [min(5, max(1, round(rating + rng.uniform(-0.7, 0.7)))) for _ in range(rng.choice([1, 2]))]
        said = ", and ".join(rng.choice(PHRASES[g]) for g in grades)
        out.append((f"{rng.choice(OPENINGS).format(p=rng.choice(PRODUCTS))} {said}.", rating))
    return out


def write_ratings_csv(path: Path, rows: int = 200, seed: int = 0) -> Path:
    """`review,rating` (the rating a number with one decimal)."""
    data = rating_rows(rows, seed)
    pd.DataFrame({"review": [t for t, _ in data], "rating": [r for _, r in data]}).to_csv(path, index=False)
    return path
