"""The Word document of a parents' letter in two languages, as the default chat model writes it:
the facility's logo and name in the letterhead, German and the second language side by side,
the AI-draft mark on the page and in the file's properties."""

import io
from pathlib import Path

from docx import Document
from PIL import Image

from appliance.apps.document import AI_MARK, Letterhead, build, two_languages

# the shape of what Qwen2.5-1.5B (the default model) answered to the Elternbrief example, tidied
LETTER = """## Deutsch

**Ausflug in den Tierpark am Stadtwald**

Liebe Eltern,

am **Freitag, 12.06.2026**, fahren wir mit dem Bus in den Tierpark am Stadtwald. Wir sind von
9:00 bis 14:00 Uhr unterwegs. Die Kosten von 5 Euro übernimmt der Förderverein.

Bitte geben Sie Ihrem Kind mit:

- einen Rucksack mit Trinkflasche
- wetterfeste Kleidung
- einen Sonnenhut

Mit freundlichen Grüßen
Ihr Kita-Team

---

### Rückmeldung bis 05.06.2026

[Name des Kindes] darf am Ausflug teilnehmen: ☐ ja ☐ nein

Unterschrift: ______________________

## Ukrainisch

**Екскурсія до зоопарку біля міського лісу**

Шановні батьки,

у **п'ятницю, 12.06.2026**, ми їдемо автобусом до зоопарку біля міського лісу. Ми будемо в дорозі
з 9:00 до 14:00. Витрати у розмірі 5 євро покриває Асоціація підтримки.

Будь ласка, дайте своїй дитині з собою:

- рюкзак із пляшкою для води
- одяг за погодою
- капелюх від сонця

З повагою
Ваша команда дитячого садка

---

### Відповідь до 05.06.2026

[Name des Kindes] може взяти участь в екскурсії: ☐ так ☐ ні

Підпис: ______________________
"""


def _logo(tmp_path: Path) -> Path:
    path = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), (20, 120, 60)).save(path, format="PNG")
    return path


def test_a_letter_in_german_and_ukrainian_is_laid_out_side_by_side_under_the_logo(tmp_path: Path) -> None:
    logo = _logo(tmp_path)
    columns = two_languages(LETTER)
    assert [language for language, _ in columns] == ["Deutsch", "Ukrainisch"]
    doc = Document(io.BytesIO(build("Elternbrief", LETTER, Letterhead("Kita Sonnenschein", logo, "Lindenweg 3"),
                                    "Elternbrief")))

    header = doc.sections[0].header
    assert "Kita Sonnenschein" in header.paragraphs[0].text
    images = [p for p in header.part.related_parts.values() if p.content_type == "image/png"]
    assert [p.blob for p in images] == [logo.read_bytes()]  # the facility's own logo, in the letterhead
    assert header.paragraphs[0]._p.xpath(".//pic:pic")

    assert doc.paragraphs[0].text == AI_MARK and AI_MARK in doc.sections[0].footer.paragraphs[0].text
    props = doc.core_properties
    assert props.content_status == "KI-Entwurf – ungeprüft" and "AI-generated" in props.comments
    assert "KI-generiert" in props.keywords and props.author == "Kita Sonnenschein"

    assert len(doc.tables) == 1
    row = doc.tables[0].rows
    assert len(row) == 1 and len(row[0].cells) == 2
    german, ukrainian = row[0].cells
    assert german.paragraphs[0].text == "Deutsch" and ukrainian.paragraphs[0].text == "Ukrainisch"
    assert "Liebe Eltern," in german.text and "Шановні батьки," in ukrainian.text
    assert "Шановні" not in german.text and "Liebe Eltern" not in ukrainian.text
    for cell, items in ((german, ["einen Rucksack mit Trinkflasche", "wetterfeste Kleidung", "einen Sonnenhut"]),
                        (ukrainian, ["рюкзак із пляшкою для води", "одяг за погодою", "капелюх від сонця"])):
        bullets = [p.text for p in cell.paragraphs if p.style.name == "List Bullet"]
        assert bullets == items
        slip = [p.text for p in cell.paragraphs if p.style.name.startswith("Heading")]
        assert len(slip) == 1 and "05.06.2026" in slip[0]  # the reply slip stays in its own language
        assert "[Name des Kindes]" in cell.text  # placeholders are kept for the person to fill in
    bold = [r.text for p in german.paragraphs for r in p.runs if r.bold]
    assert "Freitag, 12.06.2026" in bold


def test_anything_but_one_letter_in_two_languages_stays_one_column_with_nothing_lost() -> None:
    chatty = "Hier ist Ihr Elternbrief:\n\n" + LETTER
    three = LETTER + "\n## Hinweis\n\nBitte vor dem Versand prüfen.\n"
    for text in (chatty, three, LETTER.split("## Ukrainisch")[0]):
        assert two_languages(text) is None
        doc = Document(io.BytesIO(build("Elternbrief", text, Letterhead("Kita Sonnenschein"), "Elternbrief")))
        assert doc.tables == []
        body = "\n".join(p.text for p in doc.paragraphs)
        assert "Liebe Eltern," in body and "05.06.2026" in body
    assert "Bitte vor dem Versand prüfen." in "\n".join(
        p.text for p in Document(io.BytesIO(build("E", three, Letterhead("K"), "E"))).paragraphs)
