"""What junbridge says to a department's staff, in the town's language: request cards,
alerts in a card's thread, answers to staff commands, and the notes it keeps in a request's
history. Every department has these; a department's own ``texts`` or an admin's
``departments.NAME.replies`` in channels.yaml override any of them, per language, like the
replies residents read. The wording names roles, not genders ("la persona responsable").
"""

from __future__ import annotations

from collections.abc import Mapping

STAFF_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "staff_card_place": "Lugar: {place}",
        "staff_card_assignee": "Asignada a {assignee}{handle}",
        "staff_card_reporters": "Avisado por {count} personas",
        "staff_card_help": "En el hilo: resolve (con foto) · reject MOTIVO · refer DEPARTAMENTO"
        " · duplicate REF · assign @quien · note · reply",
        "staff_button_ack": "Visto",
        "staff_button_start": "En marcha",
        "staff_button_resolve": "Resuelto",
        "staff_button_reject": "Rechazar",
        "staff_button_refer": "Derivar",
        "staff_button_duplicate": "Duplicado",
        "staff_unanswered": "**{reference}**: nadie ha respondido todavía a quien lo avisó.{tag}",
        "staff_shift": "**{reference}**: empieza el turno, es para {assignee}.{tag}",
        "staff_reopened": "**{reference}** reabierta: quien lo avisó dice que no está arreglado."
        " Nuevo plazo: {expected}.{tag}",
        "staff_breach": "**{reference}** ha superado el plazo ({expected}). Aviso a la persona"
        " responsable.{tag}",
        "staff_warning": "**{reference}**: queda un 25% del plazo, vence {expected}.{tag}",
        "staff_private_failed": "**{reference}**: la respuesta privada no ha llegado ({error})."
        " Le hemos dicho en público, sin detalles, cómo recibirla.",
        "staff_channel_down": "⚠️ {channel} no responde desde el {since} ({error}). Las"
        " respuestas esperan y saldrán cuando vuelva; a quien tiene otra cuenta vinculada se"
        " las enviamos allí.",
        "staff_channel_up": "✅ {channel} vuelve a funcionar (fallaba desde el {since}): salen"
        " las respuestas que esperaban.",
        "staff_reported_again": "**{reference}**: otra persona también lo ha avisado"
        " ({count} en total).",
        "staff_joined": "**{reference}** es lo mismo que **{original}**: se sigue allí.",
        "staff_only": "Solo el personal de {department} puede cambiar avisos.",
        "staff_noted": "{reference}: nota guardada (no la ve quien lo avisó).",
        "staff_sent": "{reference}: enviado a quien lo avisó.",
        "staff_seen": "{reference}: visto",
        "staff_needs_text": "reply necesita el texto para quien lo avisó: reply TEXTO",
        "staff_needs_reason": "{verb} necesita un motivo: {verb} {reference} ...",
        "staff_needs_original": "{verb} necesita la referencia del original:"
        " {verb} {reference} ...",
        "staff_needs_department": "refer necesita el departamento: refer {reference}"
        " ({departments})",
        "staff_unknown_member": "no hay nadie llamado {name} en {department}",
        "staff_login_link": "{name}: tu enlace para entrar en la consola del personal, válido"
        " {minutes} min y una sola vez: {link}",
        "staff_login_paced": "{name}: ya tienes un enlace reciente; espera un minuto para pedir"
        " otro.",
        "staff_from_console": "{name}, desde la consola: {said}",
        # Notes junbridge keeps in a request's history (staff read them in the console).
        "note_no_answer": "sin respuesta a «¿está arreglado?»",
        "note_confirmed_fixed": "quien lo avisó confirma que está arreglado",
        "note_not_fixed": "quien lo avisó dice que no está arreglado",
        "note_breach": "plazo superado",
        "note_warning": "75% del plazo",
        "note_unanswered": "sin respuesta",
        "note_shift": "{assignee} (turno)",
        "note_reported_again": "avisado otra vez por otra persona ({count} en total)",
        "note_not_the_same": "quien lo avisó otra vez dice que es otro; se abre aparte"
        " ({count} en total)",
        "note_different": "quien lo avisó dice que es otro, no el que ya estaba avisado",
        "note_withdrew": "quien lo avisó otra vez ya no quiere avisos ({count} en total)",
    },
    "en": {
        "staff_card_place": "Place: {place}",
        "staff_card_assignee": "Assigned to {assignee}{handle}",
        "staff_card_reporters": "Reported by {count} people",
        "staff_card_help": "In the thread: resolve (with a photo) · reject REASON · refer"
        " DEPARTMENT · duplicate REF · assign @who · note · reply",
        "staff_button_ack": "Seen",
        "staff_button_start": "Started",
        "staff_button_resolve": "Resolved",
        "staff_button_reject": "Reject",
        "staff_button_refer": "Refer",
        "staff_button_duplicate": "Duplicate",
        "staff_unanswered": "**{reference}**: nobody has answered the person who reported it"
        " yet.{tag}",
        "staff_shift": "**{reference}**: the shift begins, this is for {assignee}.{tag}",
        "staff_reopened": "**{reference}** reopened: the person who reported it says it is not"
        " fixed. New deadline: {expected}.{tag}",
        "staff_breach": "**{reference}** is past its deadline ({expected}). Alerting the"
        " lead.{tag}",
        "staff_warning": "**{reference}**: 25% of the time left, due {expected}.{tag}",
        "staff_private_failed": "**{reference}**: the private answer did not arrive ({error})."
        " They were told in public, with no details, how to receive it.",
        "staff_channel_down": "⚠️ {channel} has not answered since {since} ({error}). Replies"
        " wait and go out when it is back; people with a linked account get them there.",
        "staff_channel_up": "✅ {channel} works again (failing since {since}): the replies"
        " that waited are going out.",
        "staff_reported_again": "**{reference}**: someone else reported it too ({count} in all).",
        "staff_joined": "**{reference}** is the same as **{original}**: followed there.",
        "staff_only": "Only {department} staff can change requests.",
        "staff_noted": "{reference}: note kept (the person who reported it does not see it).",
        "staff_sent": "{reference}: sent to the person who reported it.",
        "staff_seen": "{reference}: seen",
        "staff_needs_text": "reply needs the text for the person who reported it: reply TEXT",
        "staff_needs_reason": "{verb} needs a reason: {verb} {reference} ...",
        "staff_needs_original": "{verb} needs the original's reference: {verb} {reference} ...",
        "staff_needs_department": "refer needs the department: refer {reference} ({departments})",
        "staff_unknown_member": "nobody called {name} in {department}",
        "staff_login_link": "{name}: your link to the staff console, good for {minutes} min"
        " and once: {link}",
        "staff_login_paced": "{name}: you have a recent link; wait a minute to ask for another.",
        "staff_from_console": "{name}, from the console: {said}",
        "note_no_answer": "no answer to «is it fixed?»",
        "note_confirmed_fixed": "the person who reported it confirms it is fixed",
        "note_not_fixed": "the person who reported it says it is not fixed",
        "note_breach": "deadline passed",
        "note_warning": "75% of the time used",
        "note_unanswered": "no answer yet",
        "note_shift": "{assignee} (shift)",
        "note_reported_again": "reported again by someone else ({count} in all)",
        "note_not_the_same": "someone who reported it again says theirs is a different one;"
        " opened apart ({count} in all)",
        "note_different": "the person who reported it says it is a different one, not the"
        " one already reported",
        "note_withdrew": "someone who reported it again no longer wants its notices"
        " ({count} in all)",
    },
}
