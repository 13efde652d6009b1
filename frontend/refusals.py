"""What the backend's refusal codes mean, in French, for the people who read the pages.

The API says why it refuses with a stable `code` (contract v1.1) and an English sentence meant
for logs. Pages never parse that sentence nor guess the reason from the state: they look the
code up here. One table for the whole frontend; a code it does not know gets a general phrase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Why a moderator's press was refused: the end of « « Suivant » n'est pas possible maintenant : … ».
PRESS_REFUSALS: dict[str, str] = {
    "not_started": "le direct n'a pas encore commencé ; démarrez-le d'abord.",
    "already_live": "le direct a déjà commencé.",
    "already_ended": "le direct est terminé.",
    "empty_programme": "le programme n'a aucun moment à mettre à l'antenne.",
    "first_item": "vous êtes déjà au premier moment du programme.",
    "last_item": "c'est le dernier moment du programme ; utilisez « Terminer » pour finir le direct.",
    "already_on_air": "ce moment est déjà à l'antenne.",
    "not_mystery": "ce moment n'a pas d'invité mystère à révéler.",
    "already_revealed": "cet invité est déjà révélé.",
    "target_required": "choisissez d'abord le moment visé dans le programme.",
    "target_not_allowed": "cette commande ne vise aucun moment particulier.",
    "unknown_item": "ce moment n'existe plus dans le programme ; rechargez la page.",
}
UNKNOWN_PRESS_REFUSAL = "l'état du direct ne le permet pas."


def press_refusal(code: str | None) -> str:
    """Why a press was refused, in French, from the API's code."""
    return PRESS_REFUSALS.get(code or "", UNKNOWN_PRESS_REFUSAL)


# Why a viewer's question or vote was refused: shown on the live page, as a whole sentence.
ASK_REFUSALS: dict[str, str] = {
    "rate_limited": "Vous avez envoyé beaucoup de questions ou de votes en peu de temps. "
    "Patientez une minute avant de recommencer.",
    "already_ended": "Le direct est terminé : les questions sont closes.",
    "duplicate_question": "Vous avez déjà posé cette question : elle est entre les mains des modérateurs.",
    "unknown_question": "Cette question n'est plus proposée au vote.",
    "unknown_event": "Cet événement n'existe pas.",
}
# A 422 of the questions API names its field; the form says, next to the field, what is expected.
QUESTION_FIELD_ERRORS: dict[str, str] = {
    "text": "Écrivez votre question : entre 1 et 500 caractères, sans caractères invisibles.",
    "author": "Votre nom et votre organisation ensemble : 120 caractères au plus, "
    "sans caractères invisibles.",
}

# Why a moderator's action on a question was refused: the end of « « Approuver » n'est pas possible : … ».
MODERATION_REFUSALS: dict[str, str] = {
    "question_state": "la question a déjà changé d'état (un autre modérateur ?) ; la liste est à jour.",
    "not_started": "le direct n'a pas encore commencé : une question passe à l'antenne pendant le direct.",
    "already_ended": "le direct est terminé.",
    "unknown_question": "cette question n'existe plus ; la liste est à jour.",
    "version_conflict": "le direct a changé pendant ce temps ; réessayez.",
    "forbidden": "votre compte n'a pas le droit de modérer.",
}
UNKNOWN_MODERATION_REFUSAL = "la régie l'a refusé ; rechargez la page."


def moderation_refusal(code: str | None) -> str:
    return MODERATION_REFUSALS.get(code or "", UNKNOWN_MODERATION_REFUSAL)


def refusal_code(answer: Any) -> str:
    """The `code` of an API answer's body; "" when it has none (or no JSON body)."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def field_errors(answer: Any, messages: Mapping[str, str], *, default: str) -> dict[str, str]:
    """The French message of each body field a 422 names (`errors`: "body.<field>: …"); the
    `default` field's message when it names none of `messages`."""
    try:
        problems = answer.json().get("errors", [])
    except (ValueError, AttributeError):
        problems = []
    fields: dict[str, str] = {}
    for problem in problems if isinstance(problems, list) else []:
        parts = str(problem).split(":", 1)[0].split(".")
        name = parts[1] if len(parts) > 1 and parts[0] == "body" else ""
        if name in messages:
            fields.setdefault(name, messages[name])
    return fields or {default: messages[default]}
