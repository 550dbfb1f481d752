"""What a question asks for, and whether a sentence holds it: a number for "how many", a
calendar date for "on what date", a duration for "how soon", a reason for "why", more words
of a speaker for "what else did he say". Regular expressions over Dutch and English text.

It only recognises; scoring sentences with it is `qa.answering`'s job. Anything a pattern
does not know (a person for "who", a place for "where") is left untyped, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = (
    r"januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
    r"december|january|february|march|may|june|july|august|october"
)
_WEEKDAYS = (
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday"
)
# the Dutch preposition in "ten behoeve van", "ten minste", "ten aanzien van" is no ten
_TEN = (
    r"ten(?!\s+(?:behoeve|minste|aanzien|opzichte|slotte|gevolge|laste|einde|onrechte|dele|"
    r"zuiden|noorden|oosten|westen|tijde|hoogste|eerste|tweede|derde|allerscherpste)\b)"
)
_COUNT_WORDS = (
    r"twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|twintig|dertig|veertig|"
    r"vijftig|honderd|duizend|miljoen|miljard|two|three|four|five|six|seven|eight|nine|"
    + _TEN
    + r"|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?|"
    r"tientallen|honderden|duizenden"
)

# any number: a digit or a number word
NUMBER = re.compile(rf"\d|\b({_COUNT_WORDS})\b", re.I)
# anything that places an event in time, a weekday or "today" included
WHEN = re.compile(
    rf"\d|\b({_WEEKDAYS}|{_MONTHS}|gisteren|vandaag|morgen|gisteravond|vannacht|yesterday|"
    r"today|tomorrow|tonight)\b",
    re.I,
)
# a date proper: a month, a weekday, a year, or d-m; not just any number
DATE = re.compile(
    rf"\b(1[89]\d\d|20\d\d|\d{{1,2}}[-/]\d{{1,2}}|{_WEEKDAYS}|{_MONTHS}|gisteren|vandaag|"
    r"gisteravond|vannacht|yesterday|today|tonight)\b",
    re.I,
)
# what "on what date" asks for: a day of a month, a numeric date, or a year; not "on Monday"
CALENDAR_DATE = re.compile(
    rf"\b(\d{{1,2}}(st|nd|rd|th|ste|de|e)?\s+({_MONTHS})|({_MONTHS})\s+\d{{1,2}}\b|"
    r"\d{1,2}[-/]\d{1,2}|1[89]\d\d|20\d\d)\b",
    re.I,
)
# a stretch of time: "binnen 24 uur", "60 dagen", "a 60-day truce", "één of twee dagen"
DURATION = re.compile(
    rf"(\d|\b({_COUNT_WORDS}|een|één|a|an|one|enkele|paar|few|several|couple))"
    r"[\s-]*(uur|uren|dag|dagen|daagse|week|weken|maand|maanden|jaar|jaren|"
    r"minuten|hours?|days?|weeks?|months?|years?|minutes?)\b",
    re.I,
)
# an amount or a count, not a date: "3 miljoen euro", "$ 3,8", "vijftig", "17 mensen"
QUANTITY = re.compile(
    r"[$€£]\s?\d|\b(?!(?:19|20)\d\d\b)\d[\d.,]*\s*(?!(?:" + _MONTHS + r")\b)[^\W\d]"
    rf"|\b({_COUNT_WORDS})\b",
    re.I,
)
REASON = re.compile(
    r"\b(because|since|due to|as a result|therefore|so that|in order to|reason|omdat|"
    r"want|doordat|vanwege|zodat|aangezien)\b",
    re.I,
)
# "…, so they decided": the reason is the sentence before one that draws a conclusion
CONSEQUENCE = re.compile(
    r"\b(therefore|hence|thus|consequently|as a result|so|daarom|dus|derhalve|"
    r"om die reden|daardoor)\b",
    re.I,
)
# a sentence that only points elsewhere: "Zie ook Kamerbrief 9 december 2024 (…)."
REFERENCE = re.compile(r"\W*(zie ook|see also|cf\.|vgl\.)\s", re.I)
# a line that names where something comes from ("Source: [2] letter.txt", "Bron: ANP"):
# quoted as an answer it reads as the answer's own citation (issue 26)
SOURCE_LINE = re.compile(
    r"\W*(sources?|bron(nen)?|citations?|referen(ce|ces|tie|ties)|quelle)\s*:", re.I
)
SAID = re.compile(
    r"[\"'“”‘’]|\b(said|says|stated|states|told|added|zei|zegt|aldus|verklaarde|"
    r"voegde|eiste|antwoordde|benadrukte|noemde)\b",
    re.I,
)


@dataclass(frozen=True)
class AnswerType:
    name: str
    asks: re.Pattern[str]  # the question asks for it (by its opening words)
    holds: re.Pattern[str]  # a single-turn answer sentence holds it
    follow_up: re.Pattern[str]  # a follow-up's answer holds it (stricter: no bare digit)


# Anchored at the start (or after "According to X,") so "... when he said" is no date.
_LEAD = r"(?:^|[,:]\s*)"
ANSWER_TYPES = (
    AnswerType(
        "number",
        re.compile(
            _LEAD + r"(hoeveel|how (much|many)|welk (bedrag|aantal)|what (amount|number|"
            r"percentage))\b",
            re.I,
        ),
        NUMBER,
        QUANTITY,
    ),
    AnswerType(
        "duration",
        re.compile(
            _LEAD + r"(hoe (lang|snel|spoedig)|binnen (welke|hoeveel) (tijd|termijn)|how "
            r"(long|soon|quickly)|(with)?in what (time|period)|(with)?in which (time|period))\b",
            re.I,
        ),
        DURATION,
        DURATION,
    ),
    AnswerType(
        "calendar date",
        re.compile(
            _LEAD + r"((op )?welke datum|in welk jaar|(on )?(what|which) (date|year))\b", re.I
        ),
        CALENDAR_DATE,
        CALENDAR_DATE,
    ),
    AnswerType(
        "date",
        re.compile(_LEAD + r"(wanneer|(op )?welke dag|when|(on )?(what|which) day)\b", re.I),
        WHEN,
        DATE,
    ),
)


# what a typed follow-up ("how much?", "when?") asks of the sentence it quotes
TYPED_FOLLOW_UPS = tuple(kind.follow_up for kind in ANSWER_TYPES)


def answer_type(question: str) -> AnswerType | None:
    """The kind of thing the question asks for, when its opening words say."""
    for kind in ANSWER_TYPES:
        if kind.asks.search(question):
            return kind
    return None


def expected_answer_type(question: str) -> re.Pattern[str] | None:
    """What a sentence answering `question` should hold, or None when it asks for no type."""
    kind = answer_type(question)
    return None if kind is None else kind.holds


_WHY = re.compile(r"\b(why|waarom|how come|hoezo|reason|reden)\b", re.I)
_ELSE = re.compile(r"\b(else|more|nog meer|verder|anders)\b", re.I)


def follow_up_intent(question: str) -> re.Pattern[str] | None:
    """What an answer sentence to a bare follow-up should hold, or None to score as usual."""
    if _WHY.search(question):
        return REASON
    kind = answer_type(question) or answer_type(
        re.sub(r"^\W*(and|en)\s+", "", question, flags=re.I)
    )
    if kind is not None:  # it asks "when", "how long" or "how much"
        return kind.follow_up
    if _ELSE.search(question):
        return SAID
    return None


# The thing a question names as what it asks for: "In welke Oostenrijkse krant …" -> krant,
# "Which aid organisation …" -> aid organisation, "Wat was volgens Israël het doelwit …" ->
# doelwit. An answer sentence names it too ("de krant Die Presse", "het doelwit").
_FOCUS = re.compile(
    r"\b(?:welke|welk|which|what)\s+(?!(?:is|was|were|are|did|does|do|has|had|have|zijn|"
    r"waren|heeft|hebben|deed|doet)\b)(\w[\w-]*)(?:\s+(\w[\w-]*))?"
    r"|\b(?:wat|what)\s+(?:is|was|waren|zijn|were|are)\s+(?:volgens\s+\w+\s+|according\s+"
    r"to\s+\w+\s+)?(?:het|de|the)\s+(\w[\w-]*)",
    re.I,
)


def focus_words(question: str) -> list[str]:
    """The noun naming what the question asks for (see `_FOCUS`), or none. A capitalised
    word or a number before it describes it ("Israeli newspaper", "twee steden")."""
    m = _FOCUS.search(question)
    if m is None:
        return []
    first, second, noun = m.groups()
    if noun:
        return [noun]
    if second and (first[0].isupper() or NUMBER.fullmatch(first)):
        return [second]
    return [first]
