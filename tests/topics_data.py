"""A small multi-label table written for the tests: short news-like texts, each tagged with one to three of eight
topics (`sports;politics`), about 1.5 per text, built from a few sentences per topic with a seeded generator."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

SENTENCES = {
    "culture": ["The museum opened a new exhibition of modern paintings", "The orchestra played to a full hall",
                "A new novel by the author tops the book charts", "The film festival announced its winners"],
    "economy": ["Inflation slowed again this quarter", "The central bank kept interest rates unchanged",
                "Shares fell sharply after the earnings report", "Unemployment dropped to a five-year low"],
    "health": ["Doctors warn of a strong flu season", "The hospital opened a new cancer ward",
               "A study links daily walking to a healthier heart", "The vaccine campaign reached rural clinics"],
    "politics": ["The parliament passed the budget after a long debate", "The minister resigned over the scandal",
                 "Voters head to the polls in the regional election", "The president signed the new law"],
    "science": ["Astronomers found water vapour on a distant planet", "The telescope captured a new galaxy image",
                "Researchers sequenced the genome of an ancient plant", "Physicists measured the particle mass"],
    "sports": ["The home team won the football final", "The tennis champion lost in the second round",
               "The marathon record fell by ten seconds", "The coach named the squad for the world cup"],
    "technology": ["The company released a faster smartphone chip", "A software update fixed the security flaw",
                   "The startup showed a new battery for electric cars", "Engineers built a cheaper solar panel"],
    "weather": ["Heavy rain flooded streets in the city", "A heatwave is expected over the weekend",
                "Snowstorms closed the mountain roads", "Strong winds knocked down power lines"],
}
TOPICS = sorted(SENTENCES)
PLACES = ["Lyon", "Osaka", "Denver", "Nairobi", "Lima", "Oslo", "Perth", "Quebec", "Seville", "Hanoi"]
DAYS = ["On Monday", "On Tuesday", "Late on Wednesday", "On Thursday", "Early on Friday", "This weekend"]


def topic_rows(rows: int = 150, seed: int = 0) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        count = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        topics = rng.sample(TOPICS, count)
        said = ". ".join(rng.choice(SENTENCES[t]) for t in topics)
        text = f"{rng.choice(DAYS)} in {rng.choice(PLACES)}: {said[0].lower()}{said[1:]}."
        out.append((text, topics))
    return out


def write_topics_csv(path: Path, rows: int = 150, seed: int = 0, separator: str = ";") -> Path:
    """`text,topics` with the topics joined by `separator`, or a JSON list per row for separator "json"."""
    data = topic_rows(rows, seed)
    cells = [json.dumps(t) if separator == "json" else separator.join(t) for _, t in data]
    pd.DataFrame({"text": [text for text, _ in data], "topics": cells}).to_csv(path, index=False)
    return path
