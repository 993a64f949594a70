"""The training texts' language for the model card: by script, or by a Latin-script language's function words."""
from __future__ import annotations

import pandas as pd

from core.publish.language import detect_languages, text_language
from tests.conftest import EXAMPLE_DATA

SENTENCES = {
    "de": "Der Drucker funktioniert nicht und ich bin sehr verärgert",
    "fr": "Le colis est arrivé avec un jour de retard et il était abîmé",
    "es": "El paquete llegó tarde y la caja estaba rota por un lado",
    "it": "Il pacco è arrivato in ritardo e non funziona",
    "nl": "Het pakket is niet op tijd aangekomen en ik ben boos",
    "pt": "Pacote não chegou e o produto está com defeito",
    "sv": "Paketet kom inte fram och jag är arg",
    "da": "Pakken kom ikke frem og jeg er vred",
    "pl": "Paczka nie dotarła na czas i jest uszkodzona",
    "ja": "荷物が届きませんでした",
    "zh": "我的包裹还没有到",
    "ko": "배송이 늦었습니다",
    "ru": "Посылка пришла поздно",
    "uk": "Посилка прийшла пізно і пошкоджена",
    "ar": "لم يصل الطرد في الوقت المحدد",
}


def test_each_language_by_its_words_or_its_script():
    assert {lang: text_language(text) for lang, text in SENTENCES.items()} == {lang: lang for lang in SENTENCES}


def test_texts_that_say_nothing_get_no_language():
    assert [text_language(t) for t in ("12345", "ok", "ERR-404 #7", "")] == [None, None, None, None]
    assert detect_languages(["A-17", "B-22", "ok"] * 10) == [] and detect_languages([]) == []


def test_a_data_set_gets_its_main_languages_most_frequent_first():
    assert detect_languages(pd.read_csv(EXAMPLE_DATA)["text"]) == ["en"]
    english = "I would like to know why my order was not shipped with the others"
    mixed = [english] * 6 + [SENTENCES["fr"]] * 3 + [SENTENCES["de"]]  # German: a tenth, under a fifth
    assert detect_languages(mixed) == ["en", "fr"]
