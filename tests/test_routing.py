"""Keyword scoring, accents and case, explicit tags."""

from __future__ import annotations

from junbridge.departments import fold, keyword_hits


def test_fold_ignores_case_and_accents():
    assert fold("Iluminación MÉDICO Ñandú") == "iluminacion medico nandu"


def test_keywords_match_whole_words_and_phrases_in_any_accent():
    keywords = {"es": ["farola", "sin luz", "médico"], "en": ["street light"]}
    assert keyword_hits("La FAROLA está SIN LUZ", keywords) == {"es": 2}
    assert keyword_hits("necesito cita con el medico", keywords) == {"es": 1}
    assert keyword_hits("The street-light is out", keywords) == {"en": 1}
    # "farolas" is another word; only a trailing * would match it.
    assert keyword_hits("faroladas", keywords) == {}
    assert keyword_hits("ilumináción rota", {"es": ["ilumin*"]}) == {"es": 1}
