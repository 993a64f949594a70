"""A tiny dataset laid out like a Hugging Face Hub dataset repo, shared by the data, CLI and UI tests."""
from pathlib import Path

POSITIVE = ["good film", "great acting", "lovely story", "a joy to watch", "wonderful cast", "superb pacing",
            "brilliant ending", "charming and warm", "a real treat", "smart and funny"]
NEGATIVE = ["bad film", "awful acting", "dull story", "a chore to watch", "wooden cast", "plodding pacing",
            "silly ending", "cold and empty", "a real mess", "dumb and tedious"]
README = """---
configs:
- config_name: sentiment
  data_files:
  - split: train
    path: sentiment/train.parquet
  - split: validation
    path: sentiment/validation.parquet
  - split: test
    path: sentiment/test.parquet
- config_name: topics
  data_files:
  - split: train
    path: topics/train.parquet
---
# A tiny dataset laid out like a Hub dataset repo
"""


def _write(split_texts: list[tuple[str, int]], path: Path, features) -> None:
    from datasets import Dataset

    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict({"text": [t for t, _ in split_texts], "label": [y for _, y in split_texts]},
                      features=features).to_parquet(str(path))


def make_hub_repo(repo: Path) -> Path:
    """Two configs; 'sentiment' has train/validation/test and a ClassLabel(neg, pos); 'topics' only a train split
    with string labels."""
    from datasets import ClassLabel, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    rows = [(t, 1) for t in POSITIVE] + [(t, 0) for t in NEGATIVE]
    _write(rows * 3, repo / "sentiment" / "train.parquet", features)
    _write([("so good", 1), ("so bad", 0), ("really great", 1), ("really awful", 0)], repo / "sentiment" / "validation.parquet", features)
    _write([("quite good", 1), ("quite bad", 0), ("no label here", -1)], repo / "sentiment" / "test.parquet", features)
    topics = Features({"text": Value("string"), "label": Value("string")})
    from datasets import Dataset

    (repo / "topics").mkdir()
    Dataset.from_dict({"text": [f"match report {i}" for i in range(10)] + [f"election news {i}" for i in range(10)],
                       "label": ["sport"] * 10 + ["politics"] * 10}, features=topics).to_parquet(str(repo / "topics" / "train.parquet"))
    (repo / "README.md").write_text(README, encoding="utf-8")
    return repo


