"""What the backend's refusal codes mean, in French, for the people who read the pages.

The API says why it refuses with a stable `code` (contract v1.1) and an English sentence meant
for logs. Pages never parse that sentence nor guess the reason from the state: they look the
code up here. One table for the whole frontend; a code it does not know gets a general phrase.
"""

from __future__ import annotations

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
