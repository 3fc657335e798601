"""Personal data kept out of what the public sees about public requests.

Public requests reach the Open311 feed, the transparency page and public replies on X. A
resident reporting a dead lamp may add a phone number, a name, or the door they live behind:
the lamp's street is public, the rest is not. :func:`redact` replaces each kind of personal
data with a placeholder in the text's language (``[teléfono]``, ``[phone]``) and drops the
house number and floor after a street name, keeping the street. Private requests are never
published at all (:func:`public_description` is None for them).

Redaction is a safety net for text that is public by design, not a licence to publish: it
errs on the side of removing too much. Links and request references are left as they are.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping

import phonenumbers

from junbridge.model import Reply, ServiceRequest

PLACEHOLDERS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "phone": "[teléfono]",
        "email": "[correo]",
        "id": "[DNI/NIE]",
        "account": "[cuenta bancaria]",
        "card": "[tarjeta]",
        "plate": "[matrícula]",
        "name": "[nombre]",
        "flat": "[piso]",
    },
    "en": {
        "phone": "[phone]",
        "email": "[email]",
        "id": "[ID number]",
        "account": "[bank account]",
        "card": "[card]",
        "plate": "[plate]",
        "name": "[name]",
        "flat": "[flat]",
    },
}

# Numbers are read as Spanish first, then British: Andalusia's largest foreign community.
PHONE_REGIONS = ("ES", "GB")

Span = tuple[int, int, str]


_LETTER = "A-Za-zÁÉÍÓÚÜÑáéíóúüñÀ-ÿ"
_UPPER = "A-ZÁÉÍÓÚÜÑÀ-Þ"

# Never touched: links (a tweet id is not a phone number) and references such as JUN-0042.
_PROTECTED = re.compile(r"https?://[^\s)\]>]+|\b[A-Z]{2,8}-\d+(?![\w-])")

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")

# An IBAN: country, check digits, then the account in groups of four (or written together).
_IBAN = re.compile(
    r"(?<![\w])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?(?![\w])",
    re.IGNORECASE,
)
# The old Spanish account number (CCC): bank, branch, check digits, account; 20 digits.
_CCC = re.compile(r"(?<![\w])\d{4}[ -]?\d{4}[ -]?\d{2}[ -]?\d{10}(?![\w])")
_CARD = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")

# DNI: 8 digits (or 7, or with thousands dots) and a letter; NIE: X, Y or Z, 7 digits, letter.
# The check letter is not required to be right: a mistyped DNI is still someone's DNI.
_DNI = re.compile(r"(?<![\w.])(?:\d{7,8}|\d{1,2}\.\d{3}\.\d{3})(?:-?[A-Z]|-?[a-z]|\s[A-Z])(?![\w])")
_NIE = re.compile(r"(?<![\w])[XYZxyz][ -]?\d{7}[ -]?[A-Za-z](?![\w])")

# Spanish plates: 1234 BCD since 2000 (consonants only), GR-1234-AB before.
_PLATE = re.compile(
    r"(?<![\w])(?:\d{4}[ -]?(?:[BCDFGHJKLMNPRSTVWXYZ]{3}|[bcdfghjklmnprstvwxyz]{3})"
    r"|[A-Z]{1,2}[ -]?\d{4}[ -]?[A-Z]{1,2})(?![\w])"
)
_NOT_PLATES = frozenset({"hrs", "pts", "mts", "kms", "grs", "HRS", "PTS"})

# A phone number said to be one: "tel. 555 123 4567", "call 07700 900123", "móvil: ...".
_PHONE_WORDS = re.compile(
    r"\b(?:tel[ée]fonos?|tel[fé]?|tlf|tfno|m[óo]vil|fijo|whats?app|wasap|ll[aá]m[ae]me|"
    r"ll[aá]mame|phone|mobile|cell|call|ring|text)\b\.?(?:\s*(?:al|es|a|on|at|is|me|me on|"
    r"number|n[º°o]\.?)\b)?[\s:.,]*(?P<number>\+?\(?\d[\d\s().-]{5,22}\d)",
    re.IGNORECASE,
)

_STREET_TYPES = (
    r"calle|c/|c\.|avenida|avda\.?|av\.|plaza|pza\.?|plz\.?|paseo|pº|camino|carretera|ctra\.?|"
    r"traves[ií]a|callej[oó]n|cuesta|urbanizaci[oó]n|urb\.|barriada|glorieta|ronda|pasaje|"
    r"carrera|v[ií]a"
)
# Words that end a street's name: "calle real hay 12 farolas" is no address.
_NAME_STOP = (
    r"hay|est[aá]n?|es|son|era|no|llevan?|tienen?|hace|desde|que|con|sin|por|para|y|e|o|u|a|al|"
    r"en|frente|junto|esquina|cerca|entre|sobre|hasta|donde|cuando|porque|pero|se|le|lo|me|nos|"
    r"muy|ya|otr[ao]|farolas?|postes?|luz|l[aá]mparas?|contenedor(?:es)?|papelera|banco|bache|"
    r"[aá]rbol|sem[aá]foro|n[uú]mero|num|n[º°]|viv[oe]|calle|plaza|avenida|km|kil[oó]metro"
)
_STREET_WORD = rf"(?!(?i:{_NAME_STOP})(?![\w]))[{_LETTER}][{_LETTER}'’.-]*"
_FLOOR = (
    r"\d{1,2}\s?[º°ª]\s?(?:[A-Ha-h](?![\w])|izq(?:uierda|da)?\.?|dcha\.?|der(?:echa)?\.?|centro)?"
    r"|bajo(?:\s?[A-Ha-h](?![\w])|(?=\s*(?:[,.;:)!?]|$)))|[áa]tico|entresuelo|"
    r"(?:piso|planta|puerta|pta\.|portal|bloque|blq\.|esc\.|escalera)\s*\w+"
)
_UNITS = (
    r"euros?|€|eur|horas?|hours?|h|minutos?|min|minutes?|metros?|m|km|d[ií]as?|days?|a[ñn]os?|"
    r"years?|veces|times|farolas?|lamps?|personas?|people|coches?|cars?|m[aá]s|more|menos|less"
)
# "calle Real 12", "C/ Nueva nº 3, 2ºB", "Avda. de Andalucía, 45 - 3º izq.": the number and
# floor go, the street stays.
_ADDRESS = re.compile(
    rf"(?<![\w])(?i:{_STREET_TYPES})\s*{_STREET_WORD}(?:\s+{_STREET_WORD}){{0,4}}?"
    r"(?P<number>(?:\s*,\s*|\s+)(?i:n\.?\s?[º°o]\.?|n[úu]m(?:ero)?\.?|no\.)?\s*\d{1,4}[A-Za-z]?(?![\w])"
    rf"(?!\s*(?i:{_UNITS})(?![\w]))(?![:/]\d)"
    rf"(?:\s*[,-]?\s*(?i:{_FLOOR}))*)",
)
# "en el número 12 de la calle Real": a number before the street. What stays must still read
# well, so the article that went with the number is adjusted ("frente al 12 de la calle" ->
# "frente a la calle").
_NUMBER_FIRST = re.compile(
    r"(?i:\b(?P<lead>el|al|del)\s+(?:(?:n[úu]mero|nº|n\.º)\s*)?|\b(?:n[úu]mero|nº|n\.º)\s*)"
    rf"\d{{1,4}}[a-z]?(?:\s*,?\s*(?i:{_FLOOR}))*\s+(?P<of>(?i:del?))\s+"
    rf"(?=(?i:la\s+)?(?i:{_STREET_TYPES}))"
)
_LEAD = {None: "", "el": "", "al": "a ", "del": "de "}
# "at 12 Calle Real"
_AT_NUMBER = re.compile(rf"(?<=\bat )\d{{1,4}}[A-Za-z]?,?\s+(?=(?i:{_STREET_TYPES})\s)")
_ENGLISH_ADDRESS = re.compile(
    r"(?<![\w])(?:(?i:number|no\.|nº)\s*)?\d{1,4}[A-Za-z]?,?\s+(?=(?:[A-Z][\w'’-]*\s+){1,3}"
    r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Close|Drive|Dr\.?|Way|Square|Sq\.?|"
    r"Crescent|Terrace|Place|Court|Gardens)(?![\w]))"
)
_FLAT = re.compile(
    r"(?<![\w])\d{1,2}\s?[º°ª]\s?(?:[A-Ha-h](?![\w])|izq(?:uierda|da)?\.?|dcha\.?|derecha|centro)"
    r"|\b(?i:flat|apartment|apt\.?)\s*\d{1,4}[A-Za-z]?(?![\w])|\b(?i:b)ajo\s?[A-H](?![\w])"
)

# Phrases after which a person's name follows. Strong ones are certain even in lower case
# ("me llamo ana garcía"); weak ones only before capitalised words ("soy Ana", "soy vecino").
_STRONG = re.compile(
    r"\b(?:me\s+llamo|mi\s+nombre\s+es|nombre(?:\s+y\s+apellidos)?\s*:|firmado\s*:?|fdo\.\s*:?|"
    r"my\s+name\s+is|my\s+name's|name\s*:|signed\s*:)[\s,:]*",
    re.IGNORECASE,
)
_WEAK = re.compile(
    r"\b(?:soy|habla|le\s+escribe|te\s+escribe|se\s+llama|llamad[oa]|de\s+parte\s+de|"
    r"(?:mi|el|la|nuestr[oa])\s+vecin[oa](?:\s+de\s+(?:arriba|abajo|al\s+lado|enfrente))?|"
    r"mi\s+(?:marido|mujer|espos[oa]|hij[oa]|madre|padre|herman[oa]|abuel[oa]|amig[oa]|"
    r"pareja|novi[oa]|suegr[oa]|prim[oa]|ti[oa])|"
    r"un\s+saludo|saludos|atentamente|"
    # Whom staff met or spoke to: "hablé con Ana García", "según Pedro", "su hijo Luis".
    r"con|según|segun|(?:su|sus)\s+(?:marido|mujer|espos[oa]|hij[oa]s?|madre|padre|"
    r"herman[oa]s?|abuel[oa]s?|vecin[oa]s?|amig[oa]s?|pareja|novi[oa])|"
    r"with|spoke\s+to|talked\s+to|according\s+to|(?:his|her|their)\s+(?:husband|wife|son|"
    r"daughter|mother|father|brother|sister|neighbou?r|friend|partner)|"
    r"i\s+am|i'm|i’m|this\s+is|my\s+neighbou?r|my\s+(?:husband|wife|son|daughter|mother|"
    r"father|mum|mom|dad|brother|sister|friend|partner)|called|named|(?:kind\s+)?regards|"
    r"best\s+wishes)\b[\s,:]*",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(rf"[{_UPPER}][{_LETTER}'’-]+|[{_UPPER}]\.?")
_NAME_JOIN = re.compile(r"\s+(?:(?:de\s+la|de\s+las|de\s+los|del|de|y|van|von|da|dos|di|le)\s+)?")
_LOWER_TOKEN = re.compile(rf"[{_LETTER}][{_LETTER}'’-]*")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalised words that follow "soy"/"I am" without being a name.
_NOT_NAMES = _words(
    """I A The El La Los Las Un Una Jun Ayuntamiento Policía Policia English British Spanish
    Scottish Irish Welsh German Dutch French Italian Español Española Inglés Inglesa Lunes
    Martes Miércoles Jueves Viernes Sábado Domingo Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday Calle Plaza Avenida Paseo Camino Street Road Avenue Lane Here Sorry
    Hola Hello Hi Gracias Thanks Thank"""
)
_LOWER_STOP = _words(
    """y e o and or de del from en in vivo live i soy am tengo have que who with con a the el
    la un una desde since at vecino vecina"""
)


def placeholders(language: str) -> Mapping[str, str]:
    """The placeholders for ``language`` (``"es-ES"`` counts as Spanish); English otherwise."""
    return PLACEHOLDERS.get(language.split("-")[0].lower(), PLACEHOLDERS["en"])


def redact(text: str, *, language: str = "es") -> str:
    """``text`` with the personal data in it replaced by placeholders in ``language``.

    Phones, e-mails, DNI/NIE, bank accounts, cards, plates, names introduced as such ("me
    llamo ...", "my name is ...") and floors become ``[teléfono]``, ``[nombre]``... A street
    stays; its house number and door go ("calle Real 12, 2ºB" -> "calle Real").
    """
    if not text:
        return text
    if len(text) <= CACHED_UP_TO:
        return _redacted(text, language)
    return _redact(text, language)


# Open311 clients and the public page read the same requests again and again, and each
# description is redacted at every read (1,000 requests: ~50 ms of regular expressions):
# what was worked out once is kept: the last 2,048 texts of up to 500 characters (a
# description usually is), a few MB at worst.
CACHED_UP_TO = 500


@functools.lru_cache(maxsize=2048)
def _redacted(text: str, language: str) -> str:
    return _redact(text, language)


def _redact(text: str, language: str) -> str:
    words = placeholders(language)
    taken: list[Span] = [(m.start(), m.end(), m.group(0)) for m in _PROTECTED.finditer(text)]
    for start, end, kind in _findings(text):
        if all(end <= s or start >= e for s, e, _ in taken):
            literal = kind[1:] if kind.startswith("=") else None
            taken.append((start, end, words.get(kind, "") if literal is None else literal))
    out: list[str] = []
    position = 0
    for start, end, replacement in sorted(taken):
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


def _findings(text: str) -> Iterator[tuple[int, int, str]]:
    """Every piece of personal data in ``text`` as (start, end, kind), most certain first.

    Kind ``drop`` (a house number) is removed without a placeholder; a kind starting with
    ``=`` is replaced by the text after it.
    """
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "email"
    for m in _IBAN.finditer(text):
        if _is_iban(m.group(0)):
            yield m.start(), m.end(), "account"
    for m in _CCC.finditer(text):
        yield m.start(), m.end(), "account"
    for m in _CARD.finditer(text):
        if _luhn(re.sub(r"\D", "", m.group(0))):
            yield m.start(), m.end(), "card"
    for m in _NIE.finditer(text):
        yield m.start(), m.end(), "id"
    for m in _DNI.finditer(text):
        yield m.start(), m.end(), "id"
    yield from _phones(text)
    for m in _PLATE.finditer(text):
        if m.group(0)[-3:] not in _NOT_PLATES:
            yield m.start(), m.end(), "plate"
    for m in _NUMBER_FIRST.finditer(text):
        lead = m.group("lead")
        # "del paseo": the street keeps its article ("en el 3 del paseo" -> "en el paseo").
        if m.group("of").casefold() == "del":
            keep = lead + " " if lead else "el "
        else:
            keep = _LEAD[lead.casefold() if lead else None]
        yield m.start(), m.end(), "=" + keep
    for m in _AT_NUMBER.finditer(text):
        yield m.start(), m.end(), "drop"
    for m in _ADDRESS.finditer(text):
        yield m.start("number"), m.end("number"), "drop"
    for m in _ENGLISH_ADDRESS.finditer(text):
        yield m.start(), m.end(), "drop"
    for m in _FLAT.finditer(text):
        yield m.start(), m.end(), "flat"
    yield from _names(text)


# Five digits or more, apart only by what people write between the digits of a phone number:
# text without such a run holds no phone number, and the costly matchers below are skipped.
_DIGIT_RUN = re.compile(r"\d(?:[^\w,;:!?¡¿'\"]{0,3}\d){4,}")


def _phones(text: str) -> Iterator[tuple[int, int, str]]:
    if _DIGIT_RUN.search(text) is None:
        return
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            yield match.start, match.end, "phone"
    # Any number dialled with its country code, valid range or not ("+44 7700 900123").
    for match in phonenumbers.PhoneNumberMatcher(text, "ES", phonenumbers.Leniency.POSSIBLE):
        raw = match.raw_string.lstrip("(")
        if raw.startswith(("+", "00")):
            yield match.start, match.end, "phone"
    for m in _PHONE_WORDS.finditer(text):
        if len(re.sub(r"\D", "", m.group("number"))) >= 7:
            yield m.start("number"), m.end("number"), "phone"


# What comes before a street's name: its words are the street's, not a person's.
_STREET_WORDS = _words(
    """calle c/ c avenida avda av plaza pza plz paseo pº camino carretera ctra travesía
    travesia callejón callejon cuesta urbanización urbanizacion urb barriada glorieta ronda
    pasaje carrera vía via de del la street road avenue lane square"""
)
# A capitalised word in lower case after its first letter ("Ana", not "DNI").
_CAPITALISED = re.compile(rf"(?<![{_LETTER}'’-])[{_UPPER}][a-zß-ÿ'’][{_LETTER}'’-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?¡¿:;\n]\s*)$")


def _full_names(text: str) -> Iterator[tuple[int, int]]:
    """Two or more capitalised words in a row, anywhere ("hoy Ana García dice"): a full
    name, unless the words are a street's or capitalised anyway (see _NOT_NAMES). The first
    word of a sentence is capitalised anyway, so it does not count."""
    words = list(_CAPITALISED.finditer(text))
    run: list[re.Match[str]] = []
    for word in [*words, None]:
        joined = (
            word is not None
            and bool(run)
            and _NAME_JOIN.fullmatch(text[run[-1].end() : word.start()]) is not None
        )
        if joined and word is not None:
            run.append(word)
            continue
        names = [w for w in run if w.group(0) not in _NOT_NAMES]
        if names and names[0] is run[0] and _SENTENCE_START.search(text[: run[0].start()]):
            names = names[1:]
        before = text[: run[0].start()].rstrip().rsplit(maxsplit=1) if run else []
        street = bool(before) and before[-1].casefold().strip(".,") in _STREET_WORDS
        if len(names) >= 2 and not street and names == run[len(run) - len(names) :]:
            yield names[0].start(), names[-1].end()
        run = [word] if word is not None else []


def _names(text: str) -> Iterator[tuple[int, int, str]]:
    for start, end in _full_names(text):
        yield start, end, "name"
    for trigger in _STRONG.finditer(text):
        span = _capitalised_name(text, trigger.end()) or _lowercase_name(text, trigger.end())
        if span is not None:
            yield span[0], span[1], "name"
    for trigger in _WEAK.finditer(text):
        span = _capitalised_name(text, trigger.end())
        if span is not None:
            yield span[0], span[1], "name"


def _is_name_word(word: str) -> bool:
    """A word that can be part of a name: not capitalised anyway, not an acronym ("DNI")."""
    bare = word.rstrip(".")
    return bare not in _NOT_NAMES and not (len(bare) > 1 and bare.isupper())


def _capitalised_name(text: str, at: int) -> tuple[int, int] | None:
    """The span of "Ana", "María José López de la Torre" starting at ``at``, if there is one."""
    first = _NAME_TOKEN.match(text, at)
    if first is None or not _is_name_word(first.group(0)):
        return None
    end = first.end()
    for _ in range(4):
        join = _NAME_JOIN.match(text, end)
        token = _NAME_TOKEN.match(text, join.end()) if join else None
        if token is None or not _is_name_word(token.group(0)):
            break
        end = token.end()
    return at, end


def _lowercase_name(text: str, at: int) -> tuple[int, int] | None:
    """Up to three words after a certain trigger ("me llamo ana garcía"), stopping at "y"."""
    end = None
    position = at
    for _ in range(3):
        token = _LOWER_TOKEN.match(text, position)
        if token is None or token.group(0).casefold() in _LOWER_STOP:
            break
        end = token.end()
        space = re.match(r"[ \t]+", text[end:])
        if space is None:
            break
        position = end + space.end()
    return (at, end) if end is not None else None


def _is_iban(candidate: str) -> bool:
    """Whether ``candidate`` (spaces allowed) passes the IBAN check digits (ISO 13616).

    A Spanish-shaped one (ES and 22 digits) counts even with a typo in it.
    """
    compact = re.sub(r"[ -]", "", candidate).upper()
    if re.fullmatch(r"ES\d{22}", compact):
        return True
    if not 15 <= len(compact) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _luhn(digits: str) -> bool:
    """The Luhn check of card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return 13 <= len(digits) <= 19 and total % 10 == 0


def is_publishable(request: ServiceRequest) -> bool:
    """Whether any part of ``request`` may be shown to the public: public requests only."""
    return request.privacy == "public"


def public_description(request: ServiceRequest) -> str | None:
    """What the public may read of the resident's words: redacted, or None if private."""
    if not is_publishable(request):
        return None
    return redact(request.description, language=request.language or "es")


def public_reply(reply: Reply, *, language: str) -> Reply:
    """``reply`` with its text redacted, for replies posted where anyone can read them."""
    redacted = redact(reply.text, language=language)
    return reply if redacted == reply.text else dataclasses.replace(reply, text=redacted)
