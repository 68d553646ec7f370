"""The Word document of a parents' letter in two languages, as the default chat model writes it:
the facility's logo and name in the letterhead, German and the second language side by side,
the AI-draft mark on the page and in the file's properties."""

import io
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_DIRECTION
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


# the same letter in Arabic, as a multilingual model writes it: the placeholder stays in German
ARABIC = """## Deutsch

**Ausflug in den Tierpark**

Liebe Eltern,

am **Freitag, 12.06.2026**, fahren wir mit dem Bus in den Tierpark.

- einen Rucksack mit Trinkflasche
- einen Sonnenhut

[Name des Kindes] darf teilnehmen: ☐ ja ☐ nein

## Arabisch

**رحلة إلى حديقة الحيوان**

أعزاءنا الآباء والأمهات،

في **يوم الجمعة 12.06.2026** سنذهب بالحافلة إلى حديقة الحيوان.

- حقيبة ظهر مع زجاجة ماء
- قبعة للشمس

[Name des Kindes] يمكنه المشاركة في الرحلة: ☐ نعم ☐ لا

12.06.2026
"""
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _columns(text: str, language: str | None = None):
    doc = Document(io.BytesIO(build("Elternbrief", text, Letterhead("Kita"), "Elternbrief", language=language)))
    assert len(doc.tables) == 1
    return doc.tables[0].rows[0].cells


def _bidi(paragraph) -> bool:
    return paragraph._p.pPr is not None and paragraph._p.pPr.find(f"{W}bidi") is not None


def _rtl(run) -> bool:
    return run._r.rPr is not None and run._r.rPr.find(f"{W}rtl") is not None


def test_an_arabic_column_runs_right_to_left_and_the_german_one_stays_as_it_was() -> None:
    german, arabic = _columns(ARABIC + "\n| Tag | Uhr |\n|---|---|\n| الجمعة | 9:00 |\n", "Arabisch")
    assert arabic.paragraphs[0].text == "Arabisch" and "أعزاءنا" in arabic.text
    assert all(_bidi(p) for p in arabic.paragraphs)  # every paragraph, the bullets and the heading too
    # no w:jc: a right-to-left paragraph starts at the right margin; Word reads jc "right" in it as the left
    assert all(p.alignment is None for p in arabic.paragraphs)
    assert [p.text for p in arabic.paragraphs if p.style.name == "List Bullet"] == ["حقيبة ظهر مع زجاجة ماء",
                                                                                     "قبعة للشمس"]
    runs = {r.text: r for p in arabic.paragraphs for r in p.runs}
    assert _rtl(runs["أعزاءنا الآباء والأمهات،"]) and _rtl(runs["12.06.2026"])  # a date alone runs with the column
    assert not _rtl(runs["[Name des Kindes] "]) and not _rtl(runs["Arabisch"])  # Latin stays a left-to-right run
    assert _rtl(runs["يمكنه المشاركة في الرحلة: ☐ نعم ☐ لا"])
    assert arabic.tables[0].table_direction == WD_TABLE_DIRECTION.RTL
    bold = runs["يوم الجمعة 12.06.2026"]._r.rPr
    assert bold.find(f"{W}b") is not None and bold.find(f"{W}bCs") is not None  # bold for Arabic letters too

    xml = german._tc.xml
    assert "w:bidi" not in xml and "w:rtl" not in xml and "w:bCs" not in xml
    assert "Liebe Eltern," in german.text and "[Name des Kindes] darf teilnehmen: ☐ ja ☐ nein" in german.text


def test_the_chosen_language_decides_then_the_heading_then_the_letters() -> None:
    untitled = ARABIC.replace("## Arabisch", "## Übersetzung")
    ukrainian = LETTER.replace("## Ukrainisch", "## Übersetzung")
    for text, language, rtl in (
        (ARABIC, None, True),  # the heading names the language
        (ARABIC.replace("## Arabisch", "## Farsi"), None, True),
        (untitled, "Dari", True),  # the user chose it
        (untitled, "Paschtu", True),
        (untitled, None, True),  # nothing known: the letters are Arabic
        (ukrainian, None, False),
        (ukrainian, "Ukrainisch", False),
        (LETTER, "Ukrainisch", False),
        (untitled, "Türkisch", False),  # the user's choice wins over the letters (a model that got it wrong)
        (ukrainian, "Arabisch", True),
    ):
        german, other = _columns(text, language)
        assert all(_bidi(p) for p in other.paragraphs) is rtl, (text[-40:], language)
        assert not any(_bidi(p) for p in german.paragraphs)


def test_a_one_column_translation_sets_each_paragraph_by_its_letters() -> None:
    text = ("Hier ist die Übersetzung:\n\nاین نامه برای والدین است.\n\n- کیف با بطری آب\n\n"
            "[Name des Kindes]\n\n12.06.2026\n\n| روز | ساعت |\n|---|---|\n| جمعه | 9:00 |\n")
    for language, neutral in (("Farsi", True), (None, False)):
        doc = Document(io.BytesIO(build("Übersetzung", text, Letterhead("Kita"), "Text übersetzen",
                                        language=language)))
        paragraphs = {p.text: p for p in doc.paragraphs}
        assert not _bidi(paragraphs["Hier ist die Übersetzung:"]) and not _bidi(paragraphs["[Name des Kindes]"])
        assert _bidi(paragraphs["این نامه برای والدین است."]) and _bidi(paragraphs["کیف با بطری آب"])
        assert _bidi(paragraphs["12.06.2026"]) is neutral  # no letters: as the chosen language runs
        assert not _bidi(doc.paragraphs[0]) and not _bidi(doc.paragraphs[1])  # the AI mark and the title
        cells = doc.tables[0].rows[0].cells
        assert all(_bidi(c.paragraphs[0]) for c in cells)
        assert doc.tables[0].table_direction == WD_TABLE_DIRECTION.RTL  # its first column on the right
    assert "w:bidi" not in Document(io.BytesIO(build("E", LETTER, Letterhead("K"), "E"))).element.xml
