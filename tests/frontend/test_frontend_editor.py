"""The editor's form ↔ the programme document, and the API's located refusals in French."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from app.cli.programmes import read_programme
from app.domain.programme import parse_programme
from frontend import editor
from tests.test_edits import BASE


def posted(form: editor.ProgrammeForm) -> dict[str, str]:
    """The fields a browser posts for `form`, as the template names them."""
    fields = dict(form.values)
    for s, segment in enumerate(form.segments):
        fields.update({f"s{s}.{k}": v for k, v in segment.values.items()})
        for i, item in enumerate(segment.items):
            fields.update({f"s{s}.i{i}.{k}": v for k, v in item.values.items() if k != "mystery" or v})
    return fields


def test_a_document_goes_through_the_form_unchanged() -> None:
    data = copy.deepcopy(BASE)
    data["partners"] = ["Banque des Territoires", "MEDEF"]
    data["see_also"] = ["rencontre-pionniers-2019"]
    data["segments"][0]["items"][1]["speakers"] = [
        {"name": "Anne ROBIN", "role": None, "organisation": "COMISIS"}
    ]
    data["segments"][0]["items"][2]["resources"] = [
        {"title": "Le dossier", "url": "https://example.org/d.pdf"}
    ]
    document = parse_programme(data, source="test")
    form = editor.form_of(document.model_dump(mode="json"))
    assert form.segments[0].items[1].get("speakers") == "Anne ROBIN ;  ; COMISIS"
    assert form.get("starts_at") == "2021-03-01T18:00"  # shown in the event's time zone
    again = editor.document_of(editor.parse_form(posted(form)))
    assert parse_programme(again, source="form") == document


def test_structural_operations_keep_what_was_typed() -> None:
    form = editor.form_of(parse_programme(copy.deepcopy(BASE), source="t").model_dump(mode="json"))
    editor.apply_operation(form, "up:1:0")  # « Témoignage » into the end of the segment before
    assert [i.get("id") for i in form.segments[0].items][-1] == "temoignage"
    editor.apply_operation(form, "down:0:3")  # and back to the start of the next
    assert [i.get("id") for i in form.segments[1].items] == ["temoignage", "mystere"]
    editor.apply_operation(form, "add-item:1")
    editor.apply_operation(form, "remove-item:0:0")
    assert [len(s.items) for s in form.segments] == [2, 3]


def test_located_refusals_land_next_to_their_field_in_french() -> None:
    assert editor.locate("segment 2 « Suite », item 1 « Témoignage », field `title`: Field required") == (
        "s1.i0.title",
        "Champ obligatoire.",
    )
    assert editor.locate("field `ends_at`: Input should be a valid datetime") == (
        "ends_at",
        "Date et heure invalides (jj/mm/aaaa hh:mm).",
    )
    assert editor.locate("segment 1 « Ouverture »: `planned_end` must come after `planned_start`") == (
        "s0",
        "La fin doit venir après le début.",
    )
    assert editor.locate(
        "segment 1, item 2, field `resources.0.url`: String should match pattern '^https?://[^\\s<>\"]+$'"
    ) == ("s0.i1.links", "Adresse web attendue (http:// ou https://).")
    assert editor.locate("document: two items share the same `id`") == (
        "",
        "Deux moments ont le même identifiant.",
    )


def test_the_yaml_export_is_read_back_identical_by_regie_import(tmp_path: Path) -> None:
    document = parse_programme(copy.deepcopy(BASE), source="t")
    path = tmp_path / "essai.yaml"
    # What the editor's « Exporter en YAML » writes: the API's document, dumped.
    path.write_text(yaml.safe_dump(document.model_dump(mode="json"), allow_unicode=True, sort_keys=False))
    assert read_programme(path) == document


def test_a_save_from_the_form_keeps_what_the_form_does_not_show() -> None:
    saved = copy.deepcopy(BASE)
    saved["rooms"] = [{"id": "salle-a", "name": "Salle A", "url": None}]
    saved["segments"][0]["items"][1]["sessions"] = [
        {"id": "atelier-1", "title": "Atelier", "room": "salle-a"}
    ]
    saved["segments"][0]["items"][1]["description"] = "Effacée par l'organisateur"
    form = editor.form_of(copy.deepcopy(saved))
    form.segments[0].items[1].values["description"] = ""
    editor.apply_operation(form, "down:0:1")  # the item moves: its sessions follow it by id
    document = editor.carry_over(editor.document_of(editor.parse_form(posted(form))), saved)
    assert document["rooms"] == [{"id": "salle-a", "name": "Salle A", "url": None}]
    moved = next(
        i
        for s in document["segments"]
        for i in s["items"]
        if i["id"] == saved["segments"][0]["items"][1]["id"]
    )
    assert moved["sessions"] == [{"id": "atelier-1", "title": "Atelier", "room": "salle-a"}]
    assert "description" not in moved  # what the organiser cleared stays cleared
