"""The language(s) of the training texts, for the model card's `language` field (ISO 639-1 codes).

No detection package ships offline with the app, and a card needs only the main language of a whole data set, not
of each sentence: a text is counted for a language by its script (Japanese kana, Hangul, Cyrillic, ...) or, in
Latin script, by which language's most frequent function words it uses most. A language goes on the card when at
least a fifth of the sampled texts are in it; data whose texts say nothing (codes, numbers, one-word texts) gets
none rather than a guess.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Iterable

SAMPLE = 2000
SHARE = 0.2  # of the sampled texts, for a language to be named
MAX_LANGUAGES = 5

# Frequent short words of each language; a word in two lists (Swedish and Danish "det", Spanish and Italian "con")
# is dropped from both below, so it cannot tip a text either way.
_FUNCTION_WORDS = {
    "en": "the and of to is was for that with this you are have not but be my it on at from they we can will would",
    "de": "der die und das ist nicht ich sie mit den ein eine auf für von dem des sich auch wir aber wie bei oder",
    "fr": "le les et est des une pas qui dans pour il elle sur au du avec ce je vous nous mais sont très cette",
    "es": "el los las y es una por con para del al lo muy pero como más su esta está fue hay yo sin",
    "it": "il gli è che di della sono ma questo non una per con del anche come più ho nel alla sul",
    "pt": "os não um uma para com do da em muito mas foi são você ao pelo pela isso esta está também",
    "nl": "het een en is van ik niet dat op te met voor zijn er maar ook hebben wordt naar heeft zo",
    "sv": "och att det som på är av för med inte till har jag var sig om men ett den hon vara ska blev",
    "da": "og at det som på er af for med ikke til har jeg var sig om men et den hun være skal blev efter mig",
    "pl": "i w nie na się że jest z jak ale o co tak po przez jego już",
    "tr": "ve bir bu için ile çok ama gibi daha olan ben ne",
    "id": "dan yang di ini itu dengan untuk tidak dari dalam akan ada saya juga",
}
_SHARED = {w for w, n in Counter(w for words in _FUNCTION_WORDS.values() for w in set(words.split())).items() if n > 1}
_WORDS = {lang: frozenset(words.split()) - _SHARED for lang, words in _FUNCTION_WORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def _script_language(text: str) -> str | None:
    """A language told by its script when at least a third of the letters are in it, else None (Latin script)."""
    counts: Counter[str] = Counter()
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        if "\u3040" <= ch <= "\u30ff":
            counts["ja"] += 1  # hiragana, katakana: Japanese, even mixed with kanji
        elif "\uac00" <= ch <= "\ud7af" or "\u1100" <= ch <= "\u11ff":
            counts["ko"] += 1
        elif "\u4e00" <= ch <= "\u9fff":
            counts["han"] += 1
        else:
            name = unicodedata.name(ch, "").split(" ")[0]
            script = {"CYRILLIC": "ru", "ARABIC": "ar", "HEBREW": "he", "GREEK": "el", "THAI": "th",
                      "DEVANAGARI": "hi"}.get(name)
            if script:
                counts[script] += 1
    if not letters:
        return None
    if counts["ja"]:
        counts["ja"] += counts.pop("han", 0)
    elif counts["han"]:
        counts["zh"] = counts.pop("han")
    counts.pop("han", None)
    if counts["ru"] and re.search(r"[іїєґІЇЄҐ]", text):
        counts["uk"] = counts.pop("ru")  # letters Russian does not have
    lang, n = counts.most_common(1)[0] if counts else (None, 0)
    return lang if n * 3 >= letters else None


def text_language(text: str) -> str | None:
    """One text's language, or None when it does not say (too few function words, or a tie)."""
    if lang := _script_language(text):
        return lang
    words = [w.lower() for w in _TOKEN.findall(text)]
    scores = Counter({lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()})
    ranked = scores.most_common(2)
    if not ranked or ranked[0][1] < 2 or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def detect_languages(texts: Iterable[str]) -> list[str]:
    """The languages of at least a fifth of the (first SAMPLE) texts, most frequent first; [] when none is."""
    sample = [str(t) for _, t in zip(range(SAMPLE), texts)]
    if not sample:
        return []
    counts = Counter(lang for lang in map(text_language, sample) if lang)
    return [lang for lang, n in counts.most_common(MAX_LANGUAGES) if n >= SHARE * len(sample)]
