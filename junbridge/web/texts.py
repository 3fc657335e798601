"""What the public pages say, in the town's languages, and which language a visitor reads.

The texts are a table per language, like the departments' reply texts. A visitor's language
is ``?lang=`` if the town speaks it, else the first of their browser's ``Accept-Language``
the town speaks, else the town's own; a language with no texts here reads the first town
language that has them (English last).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from junbridge.dates import base_language

PAGE_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "title": "Transparencia",
        "subtitle": "Cómo atiende {town} a sus vecinos",
        "intro": "Cada aviso de un vecino es una solicitud con su referencia. Estas cifras "
        "cuentan las hechas en los últimos {days} días, por servicio. Los asuntos privados "
        "no se publican ni se cuentan aquí.",
        "no_requests": "Todavía no hay solicitudes públicas.",
        "open_now": "Abiertas ahora",
        "received": "Recibidas ({days} días)",
        "closed": "Cerradas",
        "first_answer": "Primera respuesta (mediana)",
        "fix": "Resuelto en (mediana)",
        "promises": "Plazos cumplidos",
        "promises_detail": "{kept} de {decided} solicitudes resueltas a tiempo",
        "promises_none": "aún ningún plazo vencido",
        "rating": "Valoración de los vecinos",
        "rating_detail": "{average} de 5 ({count} valoraciones)",
        "rating_none": "sin valoraciones todavía",
        "backlog": "Solicitudes abiertas cada día (últimos {days} días)",
        "backlog_label": "{count} abiertas el {day}",
        "kept_label": "Cumplidos: {count}",
        "broken_label": "Incumplidos: {count}",
        "stars_label": "{stars} estrellas: {count}",
        "latest": "Últimas solicitudes",
        "reference": "Referencia",
        "service": "Servicio",
        "status": "Estado",
        "date": "Fecha",
        "summary": "Resumen",
        "updated": "Datos de {when}",
        "language": "Idioma",
        "none": "—",
        "under_a_minute": "menos de 1 min",
        "minutes": "{n} min",
        "hours": "{n} h",
        "days": "{n} días",
        "what": "Qué se avisó",
        "where": "Dónde",
        "map": "Ver en el mapa",
        "no_place": "Sin ubicación",
        "when": "Recibida",
        "expected": "Previsto",
        "reported_by": "Avisado por",
        "people": "{count} personas",
        "history": "Historial",
        "who": "Quién",
        "before": "Fotos del aviso",
        "after": "Fotos del arreglo",
        "photo_alt": "Foto {number} de {reference}",
        "back": "Volver a la transparencia",
        "not_found": "No hay ninguna solicitud pública con esa referencia.",
        "not_found_title": "No encontrada",
        "open": "Abierta",
        "closed_status": "Cerrada",
        "by_resident": "Vecino/a",
        "by_automatic": "Automático",
        "by_town_hall": "Ayuntamiento",
        "state_received": "Recibida",
        "state_acknowledged": "Vista por el servicio",
        "state_assigned": "Asignada",
        "state_in_progress": "En curso",
        "state_resolved": "Resuelta",
        "state_closed": "Cerrada",
        "state_reopened": "Reabierta",
        "state_rejected": "Rechazada",
        "state_duplicate": "Duplicada",
        "state_referred": "Derivada a otro servicio",
        "action_photo": "Foto añadida",
        "action_sla_breach": "Plazo prometido superado",
        "action_rated": "Valorada por el vecino",
    },
    "en": {
        "title": "Transparency",
        "subtitle": "How {town} answers its residents",
        "intro": "Every report from a resident is a request with its reference. These figures "
        "count those made in the last {days} days, per service. Private matters are neither "
        "published nor counted here.",
        "no_requests": "No public requests yet.",
        "open_now": "Open now",
        "received": "Received ({days} days)",
        "closed": "Closed",
        "first_answer": "First answer (median)",
        "fix": "Fixed in (median)",
        "promises": "Promises kept",
        "promises_detail": "{kept} of {decided} requests resolved on time",
        "promises_none": "no promised time has passed yet",
        "rating": "Residents' rating",
        "rating_detail": "{average} out of 5 ({count} ratings)",
        "rating_none": "no ratings yet",
        "backlog": "Open requests each day (last {days} days)",
        "backlog_label": "{count} open on {day}",
        "kept_label": "Kept: {count}",
        "broken_label": "Broken: {count}",
        "stars_label": "{stars} stars: {count}",
        "latest": "Latest requests",
        "reference": "Reference",
        "service": "Service",
        "status": "Status",
        "date": "Date",
        "summary": "Summary",
        "updated": "Figures as of {when}",
        "language": "Language",
        "none": "—",
        "under_a_minute": "under 1 min",
        "minutes": "{n} min",
        "hours": "{n} h",
        "days": "{n} days",
        "what": "What was reported",
        "where": "Where",
        "map": "See on the map",
        "no_place": "No location",
        "when": "Received",
        "expected": "Expected",
        "reported_by": "Reported by",
        "people": "{count} people",
        "history": "History",
        "who": "Who",
        "before": "Photos of the report",
        "after": "Photos of the fix",
        "photo_alt": "Photo {number} of {reference}",
        "back": "Back to transparency",
        "not_found": "There is no public request with that reference.",
        "not_found_title": "Not found",
        "open": "Open",
        "closed_status": "Closed",
        "by_resident": "Resident",
        "by_automatic": "Automatic",
        "by_town_hall": "Town hall",
        "state_received": "Received",
        "state_acknowledged": "Seen by the service",
        "state_assigned": "Assigned",
        "state_in_progress": "In progress",
        "state_resolved": "Resolved",
        "state_closed": "Closed",
        "state_reopened": "Reopened",
        "state_rejected": "Rejected",
        "state_duplicate": "Duplicate",
        "state_referred": "Referred to another service",
        "action_photo": "Photo added",
        "action_sla_breach": "Promised time passed",
        "action_rated": "Rated by the resident",
    },
}
LANGUAGE_NAMES = {"es": "Español", "en": "English"}


def page_language(
    asked: str | None, accept_language: str | None, town_languages: Sequence[str]
) -> str:
    """The language of a page: ``?lang=``, then the browser's wishes, then the town's."""
    spoken = [base_language(lang) for lang in town_languages]
    if asked and base_language(asked) in spoken:
        return texts_language(base_language(asked), spoken)
    for wish in _wishes(accept_language or ""):
        if wish in spoken:
            return texts_language(wish, spoken)
    return texts_language(spoken[0] if spoken else "en", spoken)


def texts_language(language: str, spoken: Sequence[str]) -> str:
    """``language`` if the pages have texts in it, else the first town language that does."""
    for candidate in (language, *spoken, "en"):
        if candidate in PAGE_TEXTS:
            return candidate
    return "en"


def _wishes(header: str) -> list[str]:
    """The base languages of an ``Accept-Language`` header, most wanted first (q=0: not)."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, base_language(tag)))
    return [language for _, _, language in sorted(weighted)]


def text(language: str, key: str, **params: object) -> str:
    """The page text ``key`` in ``language`` (English if missing), filled with ``params``."""
    table = PAGE_TEXTS.get(language, PAGE_TEXTS["en"])
    template = table.get(key) or PAGE_TEXTS["en"][key]
    return template.format(**params) if params else template
