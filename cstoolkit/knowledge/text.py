"""Words as the knowledge base indexes and searches them: one analyser for both stores.

A text becomes *terms* here, in Python, before any store sees it: lowercased, stop words of
its language dropped, each word reduced to its stem by that language's Snowball stemmer
(``snowballstemmer``, the stemmer Sphinx and many search tools use), then stripped of accents.
The store indexes these terms as they are (SQLite FTS5's ``unicode61`` tokenizer, PostgreSQL's
``simple`` text search configuration: neither stems nor drops anything), so a query's terms
and an article's terms are the same strings on SQLite and PostgreSQL, and a score floor means
the same on both (docs/knowledge.md).

Every term is a run of ASCII letters and digits, so both engines split the indexed text back
into exactly these terms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

#: ISO 639-1 codes -> Snowball algorithm names (the languages cst stems).
STEMMERS: dict[str, str] = {
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Short, common words that say nothing about a topic (kept small on purpose: a word missing
# here costs a little ranking noise; a topic word wrongly here would hide articles).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _set(
        """a an and are as at be been but by can could did do does for from had has have hello
        hi how i i'm i've if in into is it it's its me my no not of on or our please so than
        thank thanks that the their them then there these they this to too us was we were what
        when where which who why will with would you your yours"""
    ),
    "es": _set(
        """a al algo buenas buenos como con cual cuando de del desde donde el ella ellos en
        entre era es esta está están este esto estoy favor fue gracias ha han hay hola la las le
        les lo los me mi mis muy nada ni no nos o os para pero por porque que se si sin sobre su sus
        también te tengo ti tu tus un una uno unos y ya yo"""
    ),
    "pt": _set(
        """a ao aos as até com como da das de do dos e ela ele eles em entre era essa esse
        esta este estou eu favor foi há isso já lhe mais mas me meu minha muito na nas não
        nem no nos o obrigada obrigado olá os ou para pela pelo por porque que se sem seu sua
        também te tem tenho um uma umas uns você"""
    ),
}

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@functools.cache
def _stemmer(language: str) -> Any:
    algorithm = STEMMERS.get(language)
    if algorithm is None:
        return None
    import snowballstemmer

    return snowballstemmer.stemmer(algorithm)


def language_code(value: str | None, default: str = "en") -> str:
    """``pt-BR``, ``es_ES``, ``EN`` -> ``pt``, ``es``, ``en``; nothing -> ``default``."""
    if not value:
        return default
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code or default


def fold(word: str) -> str:
    """``word`` without accents, as ASCII letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def words(text: str) -> list[str]:
    """The lowercased words of ``text`` (letters and digits; an inner apostrophe kept)."""
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=65536)
def _term(word: str, language: str) -> str:
    stemmer = _stemmer(language)
    stem = stemmer.stemWord(word) if stemmer is not None else word
    return fold(stem.replace("'", ""))


def terms(text: str, language: str) -> list[str]:
    """The terms of ``text`` in ``language``, in order, repeats kept (what the index holds)."""
    stop = STOP_WORDS.get(language, frozenset())
    out = []
    for word in words(text):
        if word in stop:
            continue
        term = _term(word, language)
        if term:
            out.append(term)
    return out


def query_terms(text: str, language: str) -> list[str]:
    """The distinct terms of a query, in the order they first appear."""
    return list(dict.fromkeys(terms(text, language)))


def normalise_phrase(text: str) -> str:
    """A phrase to look for as written (no stemming): folded words separated by one space."""
    return " ".join(fold(w) for w in words(text) if fold(w))


def contains_phrase(text: str, phrases: Sequence[str]) -> str | None:
    """The first of ``phrases`` (already normalised) found in ``text`` as whole words."""
    padded = f" {normalise_phrase(text)} "
    for phrase in phrases:
        if phrase and f" {phrase} " in padded:
            return phrase
    return None


def joined(items: Iterable[str]) -> str:
    return " ".join(items)


def guess_language(text: str, languages: Iterable[str] | None = None) -> str | None:
    """The language of ``text`` among ``languages`` (default: those with stop words here),
    by which language's stop words it uses most; None when no language clearly leads (fewer
    than two such words, or a tie). Cheap on purpose: it names the language of a customer's
    first message so an answer goes out in it, not the language of any text."""
    candidates = [c for c in (languages or STOP_WORDS) if c in STOP_WORDS]
    said = words(text)
    counts = sorted(
        ((sum(1 for w in said if w in STOP_WORDS[c]), c) for c in candidates), reverse=True
    )
    if not counts or counts[0][0] < 2 or (len(counts) > 1 and counts[1][0] == counts[0][0]):
        return None
    return counts[0][1]
