"""The organiser's editor: build and change a programme in the browser, also during the show.

A client of the public API like any other: it reads the programme document (`GET …/document`,
admins only), saves it whole with `PUT` and the `If-Match` it was read with, and shows each
refusal next to what the organiser typed, which is never lost: a stale save (412) shows what the
other organiser changed, a change to what has aired (409) says so, a refused field (422) is
marked in French. Moderators see the editor read only (from the public programme: the secrets
are for admins); visitors are sent to the login page.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Depends
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from frontend import editor
from frontend.client import ApiError, ApiUnavailable, NotFound
from frontend.editor import KINDS, ProgrammeForm
from frontend.routes.common import origin_allowed, page
from frontend.security import CSRF_FIELD, csrf_token, csrf_valid
from frontend.services import Services, check_slug, services_of
from frontend.sessions import ModeratorSession

logger = logging.getLogger(__name__)
router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]

MAX_YAML_BYTES = 1024 * 1024
_NEW = {
    "timezone": "Europe/Paris",
    "segments": [{"title": "", "items": [{"title": "", "kind": "welcome"}]}],
}


def _api(slug: str) -> str:
    return "/api/v1/events/" + quote(slug, safe="")


async def _saved_document(services: Services, organiser: ModeratorSession, slug: str) -> Any:
    """The programme document as saved, secrets included (admins only; 403 for a moderator)."""
    return await services.api.editing("GET", _api(slug) + "/document", token=organiser.api_token)


def _edit_url(slug: str) -> str:
    return f"/events/{slug}/edit"


def _login(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_url, safe='/')}&notice=required", status_code=303)


def _render(
    request: Request,
    services: Services,
    organiser: ModeratorSession,
    form: ProgrammeForm,
    *,
    slug: str | None,
    etag: str | None = None,
    read_only: bool = False,
    errors: dict[str, list[str]] | None = None,
    notice: str | None = None,
    level: str = "info",
    changed: list[str] | None = None,
    revisions: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "slug": slug,
        "etag": etag or "",
        "read_only": read_only,
        "errors": errors or {},
        "notice": notice,
        "level": level,
        "changed": changed or [],
        "revisions": revisions or [],
        "kinds": KINDS,
        "username": organiser.username,
        "csrf_token": csrf_token(services.settings.secret_key, organiser.id),
        "csrf_field": CSRF_FIELD,
    }
    return page(request, "editor.html", context, status=status, cache="no-store")


async def _fields(request: Request) -> dict[str, str]:
    async with request.form(max_fields=5000, max_files=1) as form:
        return {k: v for k, v in form.items() if isinstance(v, str)}


def _checked(request: Request, services: Services, organiser: ModeratorSession, token: str | None) -> bool:
    return origin_allowed(request, services) and csrf_valid(services.settings.secret_key, organiser.id, token)


async def _revisions(services: Services, token: str, slug: str) -> list[dict[str, Any]]:
    response = await services.api.editing("GET", _api(slug) + "/revisions", token=token)
    return list(response.json())[:10] if response.status_code == 200 else []


def _public_document(event: dict[str, Any]) -> dict[str, Any]:
    """A moderator's read-only view: the public programme, in the document's shape (no secrets)."""
    return {
        **event,
        "segments": [
            {**s, "items": [{**i, "hidden": None} for i in s.get("items", [])]}
            for s in event.get("segments", [])
        ],
    }


# --- Pages -------------------------------------------------------------------------------------


@router.get("/events/new")
async def new_event(request: Request, services: ServicesDep) -> Response:
    organiser = await services.moderator(request)
    if organiser is None:
        return _login("/events/new")
    return _render(request, services, organiser, editor.form_of(_NEW), slug=None)


@router.get("/events/{slug}/edit")
async def edit_event(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    organiser = await services.moderator(request)
    if organiser is None:
        return _login(_edit_url(slug))
    response = await _saved_document(services, organiser, slug)
    if response.status_code == 401:
        await services.sessions.delete(organiser.id)
        return _login(_edit_url(slug))
    if response.status_code == 404:
        raise NotFound(404, f"no event {slug}")
    saved = request.query_params.get("saved")
    notice = "Programme enregistré : les spectateurs voient déjà la nouvelle version." if saved else None
    if response.status_code == 403:
        public = await services.api.editing("GET", _api(slug), token=organiser.api_token)
        form = editor.form_of(_public_document(public.json()))
        return _render(
            request,
            services,
            organiser,
            form,
            slug=slug,
            read_only=True,
            notice="Lecture seule : seuls les administrateurs modifient le programme.",
        )
    if response.status_code != 200:
        raise ApiUnavailable(response.status_code, "document unavailable")
    revisions = await _revisions(services, organiser.api_token, slug)
    return _render(
        request,
        services,
        organiser,
        editor.form_of(response.json()),
        slug=slug,
        etag=response.headers.get("etag"),
        notice=notice,
        level="success",
        revisions=revisions,
    )


@router.post("/events/new")
async def create_event(request: Request, services: ServicesDep) -> Response:
    return await _post(request, services, None)


@router.post("/events/{slug}/edit")
async def save_event(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    return await _post(request, services, slug)


async def _post(request: Request, services: Services, slug: str | None) -> Response:
    organiser = await services.moderator(request)
    if organiser is None:
        return _login(_edit_url(slug) if slug else "/events/new")
    fields = await _fields(request)
    form = editor.parse_form(fields)
    etag = fields.get("etag") or None
    if not _checked(request, services, organiser, fields.get(CSRF_FIELD)):
        return _render(
            request,
            services,
            organiser,
            form,
            slug=slug,
            etag=etag,
            notice="Cette page a expiré : rien n'a été enregistré. Enregistrez à nouveau.",
            level="error",
            status=403,
        )
    operation = fields.get("op", "save")
    if operation != "save":
        editor.apply_operation(form, operation)
        return _render(request, services, organiser, form, slug=slug, etag=etag)
    document = editor.document_of(form)
    target = slug or str(document.get("slug") or "")
    if not editor_slug_ok(target):
        errors = {"slug": ["Identifiant obligatoire : lettres minuscules, chiffres et tirets."]}
        return _render(request, services, organiser, form, slug=slug, etag=etag, errors=errors, status=422)
    if slug is not None:
        document["slug"] = slug
        # What the form cannot show (rooms, parallel sessions) is kept from the saved document;
        # If-Match makes sure it is the one the form was opened on.
        saved = await _saved_document(services, organiser, slug)
        if saved.status_code == 200:
            document = editor.carry_over(document, saved.json())
    headers = {"If-Match": etag} if etag else {}
    response = await services.api.editing(
        "PUT", _api(target), token=organiser.api_token, json=document, headers=headers
    )
    return await _answer(request, services, organiser, form, response, slug=slug, target=target, etag=etag)


def editor_slug_ok(slug: str) -> bool:
    from frontend.services import SLUG

    return bool(SLUG.fullmatch(slug))


async def _answer(
    request: Request,
    services: Services,
    organiser: ModeratorSession,
    form: ProgrammeForm,
    response: Any,
    *,
    slug: str | None,
    target: str,
    etag: str | None,
) -> Response:
    """What a save's answer means for the organiser; their input is kept on every refusal."""
    if response.status_code in (200, 201):
        return RedirectResponse(_edit_url(target) + "?saved=1", status_code=303)
    body = _body(response)

    def refused(notice: str, errors: dict[str, list[str]] | None = None) -> Response:
        return _render(
            request,
            services,
            organiser,
            form,
            slug=slug,
            etag=etag,
            errors=errors,
            notice=notice,
            level="error",
            status=response.status_code,
        )

    if response.status_code == 401:
        await services.sessions.delete(organiser.id)
        return _login(_edit_url(target))
    if response.status_code == 403:
        notice = "Votre compte ne peut pas modifier le programme (réservé aux administrateurs)."
        return refused(notice)
    if response.status_code == 422:
        errors = editor.field_errors(list(body.get("errors") or [str(body.get("detail", ""))]))
        notice = "Le programme n'a pas été enregistré : corrigez les champs signalés."
        return refused(notice, errors)
    if response.status_code == 409 and body.get("code") == "item_started":
        aired: dict[str, list[str]] = {}
        where = form.item_index(str(body.get("item_id") or ""))
        message = (
            "Ce moment a déjà commencé : ce qui est passé à l'antenne ne peut plus être modifié, déplacé "
            "ni supprimé."
        )
        if where is not None:
            aired[f"s{where[0]}.i{where[1]}"] = [message]
        else:
            segment = form.segment_index(str(body.get("segment_id") or ""))
            if segment is not None:
                aired[f"s{segment}"] = [
                    "Cette partie est déjà passée à l'antenne : elle ne peut plus être modifiée."
                ]
        notice = (
            "Modification refusée : elle touche ce qui est déjà passé à l'antenne. "
            "Rien n'a été enregistré ; vos saisies sont conservées."
        )
        return refused(notice, aired)
    if response.status_code == 412 and slug is not None:
        return await _stale(request, services, organiser, form, slug=slug, etag=etag)
    notice = f"La régie a refusé l'enregistrement : {body.get('detail', 'erreur inconnue')}"
    return refused(notice)


async def _stale(
    request: Request,
    services: Services,
    organiser: ModeratorSession,
    form: ProgrammeForm,
    *,
    slug: str,
    etag: str | None,
) -> Response:
    """Someone saved since this page was read: say what they changed, keep this organiser's input,
    and take the new version's ETag, so that saving again is a deliberate choice."""
    current = await _saved_document(services, organiser, slug)
    document = current.json() if current.status_code == 200 else {}
    titles = {i.get("id"): i.get("title") for s in document.get("segments", []) for i in s.get("items", [])}
    titles.update({s.get("id"): s.get("title") for s in document.get("segments", [])})
    base = editor.revision_of(etag) or 0
    revisions = await _revisions(services, organiser.api_token, slug)
    changed: list[str] = []
    for revision in reversed(revisions):
        if revision["number"] <= base:
            continue
        changes = revision.get("changes") or {}
        who = revision.get("actor") or "un import"
        parts = []
        labels = (
            ("items_added", "ajouté"),
            ("items_removed", "supprimé"),
            ("items_moved", "déplacé"),
            ("items_changed", "modifié"),
            ("segments_added", "partie ajoutée"),
            ("segments_removed", "partie supprimée"),
            ("segments_changed", "partie modifiée"),
        )
        for key, label in labels:
            for ident in changes.get(key, []):
                parts.append(f"{label} : « {titles.get(ident, ident)} »")
        if changes.get("event"):
            parts.append("informations de l'événement modifiées")
        changed.append(
            f"Version {revision['number']} par {who} — " + ("; ".join(parts) or "aucun changement visible")
        )
    notice = (
        "Un autre organisateur a enregistré le programme pendant que vous le modifiiez : vos modifications "
        "n'ont pas été enregistrées. Elles sont conservées ci-dessous ; vérifiez ce qui a changé, puis "
        "enregistrez à nouveau pour remplacer sa version."
    )
    return _render(
        request,
        services,
        organiser,
        form,
        slug=slug,
        etag=current.headers.get("etag") if current.status_code == 200 else etag,
        notice=notice,
        level="warning",
        changed=changed,
        revisions=revisions,
        status=412,
    )


def _body(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- Export, import, undo, documents -----------------------------------------------------------


@router.get("/events/{slug}/programme.yaml")
async def export_yaml(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    organiser = await services.moderator(request)
    if organiser is None:
        return _login(_edit_url(slug))
    response = await _saved_document(services, organiser, slug)
    if response.status_code != 200:
        raise ApiError(response.status_code, "document unavailable")
    text = yaml.safe_dump(response.json(), allow_unicode=True, sort_keys=False)
    return Response(
        text,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}.yaml"', "Cache-Control": "no-store"},
    )


@router.post("/events/import")
async def import_yaml(request: Request, services: ServicesDep) -> Response:
    organiser = await services.moderator(request)
    if organiser is None:
        return _login("/events/new")
    async with request.form(max_files=1, max_fields=3) as form_data:
        token = form_data.get(CSRF_FIELD)
        upload = form_data.get("file")
        raw = await upload.read(MAX_YAML_BYTES + 1) if isinstance(upload, UploadFile) else b""
    empty = editor.form_of(_NEW)

    def refused(message: str, problems: list[str] | None = None, status: int = 422) -> Response:
        errors = {
            "import": [
                editor.french(p) if not p.startswith(("segment", "field")) else p for p in problems or []
            ]
        }
        return _render(
            request,
            services,
            organiser,
            empty,
            slug=None,
            errors=errors,
            notice=message,
            level="error",
            status=status,
        )

    if not _checked(request, services, organiser, token if isinstance(token, str) else None):
        return refused("Cette page a expiré : rien n'a été importé. Rechargez-la.", status=403)
    if not raw or len(raw) > MAX_YAML_BYTES:
        return refused("Choisissez un fichier YAML d'un mégaoctet au plus.")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark is not None else ""
        return refused(f"Ce fichier n'est pas un YAML lisible{where} : rien n'a été importé.")
    if not isinstance(data, dict) or not editor_slug_ok(str(data.get("slug") or "")):
        return refused("Le fichier doit décrire un programme avec son `slug` : rien n'a été importé.")
    slug = str(data["slug"])
    response = await services.api.editing("PUT", _api(slug), token=organiser.api_token, json=data)
    if response.status_code in (200, 201):
        return RedirectResponse(_edit_url(slug) + "?saved=1", status_code=303)
    body = _body(response)
    problems = [f"{p} — {editor.french(p.rpartition(': ')[2])}" for p in body.get("errors") or []]
    detail = "Le programme importé a été refusé, rien n'a été enregistré"
    if body.get("code") == "item_started":
        problems = ["Ce fichier change un moment déjà passé à l'antenne."]
    return refused(detail + " :", problems or [str(body.get("detail", ""))], status=response.status_code)


@router.post("/events/{slug}/revisions/{number}/restore")
async def restore(request: Request, slug: str, number: int, services: ServicesDep) -> Response:
    check_slug(slug)
    organiser = await services.moderator(request)
    if organiser is None:
        return _login(_edit_url(slug))
    fields = await _fields(request)
    if not _checked(request, services, organiser, fields.get(CSRF_FIELD)):
        return RedirectResponse(_edit_url(slug), status_code=303)
    etag = fields.get("etag")
    response = await services.api.editing(
        "POST",
        _api(slug) + f"/revisions/{number}/restore",
        token=organiser.api_token,
        headers={"If-Match": etag} if etag else {},
    )
    if response.status_code == 200:
        return RedirectResponse(_edit_url(slug) + "?saved=1", status_code=303)
    if _body(response).get("code") == "item_started":
        notice = "Impossible d'annuler : cette version changerait ce qui est déjà passé à l'antenne."
    elif response.status_code == 412:
        notice = "Un autre organisateur a enregistré entre-temps : rechargez la page avant d'annuler."
    else:
        notice = f"Annulation refusée : {_body(response).get('detail', '')}"
    return await _refused(request, services, organiser, slug, notice, response.status_code, revisions=True)


@router.post("/events/{slug}/resources")
async def upload_resource(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    organiser = await services.moderator(request)
    if organiser is None:
        return _login(_edit_url(slug))
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > 21 * 1024 * 1024:
        return await _refused(request, services, organiser, slug, "Un document fait 20 Mo au plus.", 413)
    async with request.form(max_files=1, max_fields=4) as form_data:
        token, title, upload = form_data.get(CSRF_FIELD), form_data.get("title"), form_data.get("file")
        item_id = str(form_data.get("item_id") or "")[:80]
        if not _checked(request, services, organiser, token if isinstance(token, str) else None):
            return RedirectResponse(_edit_url(slug), status_code=303)
        if not isinstance(upload, UploadFile) or not isinstance(title, str):
            return await _refused(
                request, services, organiser, slug, "Choisissez un fichier et un titre.", 422
            )
        content = await upload.read(20 * 1024 * 1024 + 1)
        filename = upload.filename or "document"
    response = await services.api.editing(
        "POST",
        _api(slug) + f"/items/{quote(item_id, safe='')}/resources",
        token=organiser.api_token,
        files={"file": (filename, content, "application/octet-stream")},
        data={"title": title.strip() or filename},
    )
    if response.status_code == 201:
        return RedirectResponse(_edit_url(slug) + "?saved=1", status_code=303)
    messages = {
        415: "Ce fichier n'est pas accepté : seuls les PDF, images (JPEG, PNG, GIF, WebP) et diaporamas "
        "(PPTX, ODP, PPT) peuvent être partagés, reconnus à leur contenu et non à leur nom.",
        413: "Un document fait 20 Mo au plus.",
        404: "Ce moment n'existe plus dans le programme enregistré : enregistrez d'abord le programme.",
    }
    message = messages.get(response.status_code, "Le document n'a pas pu être ajouté : réessayez.")
    return await _refused(request, services, organiser, slug, message, response.status_code)


async def _refused(
    request: Request,
    services: Services,
    organiser: ModeratorSession,
    slug: str,
    message: str,
    status: int,
    *,
    revisions: bool = False,
) -> Response:
    """A refused action that carried no form input: the saved programme again, with why."""
    current = await _saved_document(services, organiser, slug)
    form = editor.form_of(current.json()) if current.status_code == 200 else ProgrammeForm()
    return _render(
        request,
        services,
        organiser,
        form,
        slug=slug,
        etag=current.headers.get("etag"),
        notice=message,
        level="error",
        revisions=await _revisions(services, organiser.api_token, slug) if revisions else None,
        status=status,
    )


@router.get("/resources/{resource_id}")
async def download(resource_id: str, services: ServicesDep) -> Response:
    """An item's document, relayed from the API with its type and download name."""
    if not editor_resource_ok(resource_id):
        raise NotFound(404, "no such document")
    response = await services.api.get_text("/api/v1/resources/" + resource_id)
    headers = {
        name: response.headers[name]
        for name in ("content-disposition", "x-content-type-options", "content-security-policy", "etag")
        if name in response.headers
    }
    return Response(response.content, media_type=response.headers.get("content-type"), headers=headers)


def editor_resource_ok(resource_id: str) -> bool:
    return 0 < len(resource_id) <= 40 and resource_id.replace("-", "").replace("_", "").isalnum()
