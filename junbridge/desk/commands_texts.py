"""What resident commands say, in Spanish and English; admins override it under
``departments.triage.replies`` like any other reply."""

from __future__ import annotations

from collections.abc import Mapping

COMMANDS_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "status": "**{reference}** · {department}\nEstado: {state} ({open311}).",
        "status_assignee": "Lo lleva {assignee}.",
        "status_expected": "Previsto: {expected}.",
        "status_not_found": "No encuentro **{reference}** entre tus avisos.",
        "status_none": "Todavía no tienes ningún aviso. Escríbenos lo que necesites.",
        "mine": "Tus avisos abiertos:\n{lines}\nEscribe /estado y la referencia para ver "
        "cómo va uno.",
        "mine_line": "**{reference}** · {department} · {state}: {summary}",
        "mine_more": "… y {count} más.",
        "mine_none": "No tienes avisos abiertos.",
        "cancelled": "**{reference}** anulado, como nos pediste. Gracias por avisar.",
        "cancel_which": "¿Qué aviso quieres anular? Escribe /cancelar y su referencia, por "
        "ejemplo: /cancelar {example}",
        "cancel_not_open": "**{reference}** ya está {state}: no hay nada que anular.",
        "cancel_refused": "**{reference}** no se puede anular ahora (está {state}).",
        "cancel_left": "Ya no te avisaremos de **{reference}**: sigue abierto para quien más "
        "lo avisó.",
        "cancel_shared": "**{reference}** también lo han avisado otras personas: sigue "
        "abierto para ellas.",
        "staff_cancelled": "**{reference}**: el vecino lo ha anulado.",
        "lang_set": "Hecho: a partir de ahora te contesto en español.",
        "lang_which": "Te contesto en {current}. Idiomas disponibles: {languages}. Para "
        "cambiar, escribe por ejemplo: /idioma {example}",
        "lang_unknown": "No sé contestar en «{asked}». Idiomas disponibles: {languages}. "
        "Por ejemplo: /idioma {example}",
        "help": "Escríbenos lo que necesites y lo pasamos a quien corresponda: "
        "{departments}.\nAdemás puedes usar:\n"
        "/estado REF: cómo va un aviso\n"
        "/mis: tus avisos abiertos\n"
        "/cancelar REF: retirar un aviso tuyo\n"
        "/idioma es|en: el idioma en que te contestamos\n"
        "/vincular: unir tus cuentas de Telegram, Slack o X\n"
        "/verificar: cómo verificarte en el ayuntamiento\n"
        "Si es una emergencia, llama al {emergency}.",
        "link_code": "Tu código para vincular cuentas es **{code}** (vale {minutes} minutos). "
        "Envíalo desde tu otra cuenta así: /vincular {code}",
        "link_done": "Cuentas vinculadas: tus avisos de {channels} son ahora uno solo. "
        "Escribe /mis para verlos todos.",
        "link_verified": "Tu verificación vale para todas tus cuentas.",
        "link_same": "Esta cuenta ya estaba vinculada.",
        "link_wrong": "Ese código no es válido o ha caducado. Pide uno nuevo escribiendo "
        "/vincular desde tu otra cuenta.",
        "link_throttled": "Demasiados códigos equivocados. Espera una hora y pide uno nuevo.",
        "verify_done": "Tu cuenta está verificada desde el {date}, y vale para todas tus "
        "cuentas vinculadas: puedes pedir cita con el médico desde cualquiera.",
        "verify_how": "Para verificarte, pásate por el mostrador del ayuntamiento con tu DNI "
        "o NIE y enseña este identificador: **{identity}**. Se hace en un minuto, y vale "
        "para todas tus cuentas si antes las unes con /vincular.",
        "label_received": "recibido",
        "label_acknowledged": "visto",
        "label_assigned": "asignado",
        "label_in_progress": "en curso",
        "label_resolved": "resuelto",
        "label_closed": "cerrado",
        "label_reopened": "reabierto",
        "label_rejected": "rechazado",
        "label_duplicate": "duplicado",
        "label_referred": "derivado",
        "label_open": "abierto",
        "label_and": "y",
    },
    "en": {
        "status": "**{reference}** · {department}\nState: {state} ({open311}).",
        "status_assignee": "{assignee} has it.",
        "status_expected": "Expected by {expected}.",
        "status_not_found": "I can't find **{reference}** among your requests.",
        "status_none": "You have no requests yet. Write to us with whatever you need.",
        "mine": "Your open requests:\n{lines}\nWrite /status and the reference to see how "
        "one is going.",
        "mine_line": "**{reference}** · {department} · {state}: {summary}",
        "mine_more": "… and {count} more.",
        "mine_none": "You have no open requests.",
        "cancelled": "**{reference}** is cancelled, as you asked. Thanks for letting us know.",
        "cancel_which": "Which request do you want to cancel? Write /cancel and its "
        "reference, for example: /cancel {example}",
        "cancel_not_open": "**{reference}** is already {state}: there is nothing to cancel.",
        "cancel_refused": "**{reference}** cannot be cancelled now (it is {state}).",
        "cancel_left": "You will no longer hear about **{reference}**: it stays open for the "
        "others who reported it.",
        "cancel_shared": "Other people reported **{reference}** too: it stays open for them.",
        "staff_cancelled": "**{reference}**: the resident cancelled it.",
        "lang_set": "Done: from now on I will answer you in English.",
        "lang_which": "I answer you in {current}. Languages: {languages}. To change, write "
        "for example: /lang {example}",
        "lang_unknown": 'I can\'t answer in "{asked}". Languages: {languages}. For example: '
        "/lang {example}",
        "help": "Write to us with whatever you need and we pass it to the right people: "
        "{departments}.\nYou can also use:\n"
        "/status REF: how a request is going\n"
        "/mine: your open requests\n"
        "/cancel REF: withdraw a request of yours\n"
        "/lang es|en: the language we answer you in\n"
        "/link: join your Telegram, Slack or X accounts\n"
        "/verify: how to get verified at the town hall\n"
        "In an emergency, call {emergency}.",
        "link_code": "Your code to link accounts is **{code}** (valid for {minutes} "
        "minutes). Send it from your other account like this: /link {code}",
        "link_done": "Linked: your requests on {channels} are now one. Write /mine to see "
        "them all.",
        "link_verified": "Your verification holds for all your accounts.",
        "link_same": "This account was already linked.",
        "link_wrong": "That code is wrong or has expired. Ask for a new one by writing /link "
        "from your other account.",
        "link_throttled": "Too many wrong codes. Wait an hour and ask for a new one.",
        "verify_done": "Your account is verified since {date}, for all your linked "
        "accounts: you can book with the doctor from any of them.",
        "verify_how": "To get verified, come to the town hall desk with your ID (DNI or NIE) "
        "and show this identifier: **{identity}**. It takes a minute, and it holds for all "
        "your accounts if you first join them with /link.",
        "label_received": "received",
        "label_acknowledged": "seen",
        "label_assigned": "assigned",
        "label_in_progress": "in progress",
        "label_resolved": "resolved",
        "label_closed": "closed",
        "label_reopened": "reopened",
        "label_rejected": "rejected",
        "label_duplicate": "a duplicate",
        "label_referred": "referred",
        "label_open": "open",
        "label_and": "and",
    },
}
