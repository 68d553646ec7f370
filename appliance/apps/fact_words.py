"""The words the fact check knows (German first, English second): months, weekdays, numbers written
as words, units, titles and roles before names, common first names, and the endings of drug names
(the WHO's INN stems). Vocabulary only; the rules are in ``fact_check``."""

from __future__ import annotations

MONTHS = {
    "januar": 1, "jänner": 1, "jan": 1, "january": 1,
    "februar": 2, "feb": 2, "febr": 2, "february": 2,
    "märz": 3, "mär": 3, "mrz": 3, "maerz": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "october": 10, "oct": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12, "december": 12, "dec": 12,
}
"""Month names and their usual short forms; "may" counts only beside a day number."""

WEEKDAYS = {
    "montag": 0, "monday": 0, "dienstag": 1, "tuesday": 1, "mittwoch": 2, "wednesday": 2,
    "donnerstag": 3, "thursday": 3, "freitag": 4, "friday": 4, "samstag": 5, "sonnabend": 5,
    "saturday": 5, "sonntag": 6, "sunday": 6,
}
WEEKDAY_SHORT = {"mo": 0, "di": 1, "mi": 2, "do": 3, "fr": 4, "sa": 5, "so": 6,
                 "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
"""Short forms are read in the inputs only ("Mo–Fr"): in a draft "Fr." is Frau and "So" a word."""

ONES = {"null": 0, "ein": 1, "eins": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "zwei": 2, "zwo": 2,
        "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
        "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16,
        "siebzehn": 17, "achtzehn": 18, "neunzehn": 19,
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
        "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"zwanzig": 20, "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60,
        "siebzig": 70, "achtzig": 80, "neunzig": 90, "hundert": 100, "einhundert": 100, "tausend": 1000,
        "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90, "hundred": 100, "thousand": 1000}
ARTICLE_ONES = {"ein", "eine", "einen", "einem", "einer", "one", "null", "zero"}
"""Words for one (and zero) that are mostly articles: a number only in front of a unit."""
HALVES = {"halb": 0.5, "halbe": 0.5, "halben": 0.5, "halber": 0.5, "halbes": 0.5, "anderthalb": 1.5,
          "eineinhalb": 1.5, "zweieinhalb": 2.5, "viertel": 0.25, "half": 0.5}

# a unit's spellings -> (canonical unit, factor to it); longest spellings are tried first
UNITS: dict[str, tuple[str, float]] = {
    "mg": ("g", 1e-3), "milligramm": ("g", 1e-3), "µg": ("g", 1e-6), "μg": ("g", 1e-6), "mcg": ("g", 1e-6),
    "mikrogramm": ("g", 1e-6), "g": ("g", 1), "gramm": ("g", 1), "kg": ("g", 1e3), "kilogramm": ("g", 1e3),
    "kilo": ("g", 1e3),
    "ml": ("l", 1e-3), "milliliter": ("l", 1e-3), "cl": ("l", 1e-2), "dl": ("l", 1e-1), "l": ("l", 1),
    "liter": ("l", 1), "litre": ("l", 1), "liters": ("l", 1),
    "mg/dl": ("mg/dl", 1), "mmol/l": ("mmol/l", 1), "mmhg": ("mmHg", 1),
    "°c": ("°C", 1), "° c": ("°C", 1), "°": ("°C", 1), "grad celsius": ("°C", 1), "grad": ("°C", 1),
    "mm": ("m", 1e-3), "cm": ("m", 1e-2), "m": ("m", 1), "meter": ("m", 1), "km": ("m", 1e3),
    "zentimeter": ("m", 1e-2), "kilometer": ("m", 1e3),
    "%": ("%", 1), "prozent": ("%", 1), "percent": ("%", 1), "per cent": ("%", 1),
    "tabletten": ("tablet", 1), "tablette": ("tablet", 1), "tbl.": ("tablet", 1), "tbl": ("tablet", 1),
    "tabl.": ("tablet", 1), "tablets": ("tablet", 1), "tablet": ("tablet", 1),
    "kapseln": ("capsule", 1), "kapsel": ("capsule", 1), "capsules": ("capsule", 1), "capsule": ("capsule", 1),
    "tropfen": ("drop", 1), "trpf.": ("drop", 1), "drops": ("drop", 1),
    "hübe": ("puff", 1), "hub": ("puff", 1), "sprühstöße": ("puff", 1), "sprühstoß": ("puff", 1),
    "puffs": ("puff", 1), "ie": ("IU", 1), "i.e.": ("IU", 1), "einheiten": ("IU", 1), "units": ("IU", 1),
    "ampullen": ("ampoule", 1), "ampulle": ("ampoule", 1), "zäpfchen": ("suppository", 1),
    "beutel": ("sachet", 1), "pflaster": ("patch", 1),
    "stück": ("piece", 1), "stk.": ("piece", 1), "stk": ("piece", 1), "pieces": ("piece", 1),
    "sekunden": ("s", 1), "sek.": ("s", 1), "seconds": ("s", 1),
    "minuten": ("s", 60), "minute": ("s", 60), "min.": ("s", 60), "min": ("s", 60), "minutes": ("s", 60),
    "stunden": ("s", 3600), "stunde": ("s", 3600), "std.": ("s", 3600), "std": ("s", 3600),
    "hours": ("s", 3600), "hour": ("s", 3600), "h": ("s", 3600),
    "tage": ("day", 1), "tagen": ("day", 1), "tag": ("day", 1), "days": ("day", 1), "day": ("day", 1),
    "wochen": ("day", 7), "woche": ("day", 7), "weeks": ("day", 7), "week": ("day", 7),
    "monate": ("month", 1), "monaten": ("month", 1), "monat": ("month", 1), "months": ("month", 1),
    "jahre": ("year", 1), "jahren": ("year", 1), "jahr": ("year", 1), "years": ("year", 1),
    "lebensjahr": ("year", 1), "j.": ("year", 1),
    "schritte": ("step", 1), "steps": ("step", 1), "portionen": ("portion", 1), "portion": ("portion", 1),
    "becher": ("cup", 1), "tassen": ("cup", 1), "tasse": ("cup", 1), "gläser": ("glass", 1), "glas": ("glass", 1),
    "scheiben": ("slice", 1), "scheibe": ("slice", 1), "flaschen": ("bottle", 1), "flasche": ("bottle", 1),
    "mal": ("times", 1), "x": ("times", 1), "times": ("times", 1),
    "/min": ("bpm", 1), "schläge/min": ("bpm", 1), "bpm": ("bpm", 1), "kcal": ("kcal", 1),
    "€": ("EUR", 1), "eur": ("EUR", 1), "euro": ("EUR", 1), "euros": ("EUR", 1), "cent": ("EUR", 0.01),
    "ct": ("EUR", 0.01), "chf": ("CHF", 1), "$": ("USD", 1), "usd": ("USD", 1), "£": ("GBP", 1),
}
MONEY = {"EUR", "CHF", "USD", "GBP"}
DOSE_UNITS = {"g", "IU", "tablet", "capsule", "drop", "puff", "ampoule", "suppository", "sachet", "patch"}
"""Units after which (or before which) a capitalised word is a medication: "500 mg Paracetamol"."""

HONORIFICS = {"frau", "herr", "herrn", "fr", "hr", "frl", "dr", "prof", "schwester", "pfleger", "pater",
              "familie", "fam", "mr", "mrs", "ms", "miss", "mx", "dipl"}
ROLES = {"tochter", "sohn", "ehemann", "ehefrau", "enkel", "enkelin", "bruder", "nichte", "neffe",
         "mutter", "vater", "oma", "opa", "onkel", "tante", "schwiegertochter", "schwiegersohn",
         "betreuerin", "betreuer", "kollegin", "kollege", "pflegefachkraft", "pflegekraft", "pflegerin",
         "hausarzt", "hausärztin", "ärztin", "arzt", "therapeutin", "therapeut", "physiotherapeutin",
         "physiotherapeut", "ergotherapeutin", "ergotherapeut", "erzieherin", "erzieher", "praktikantin",
         "praktikant", "mitarbeiterin", "mitarbeiter", "leiterin", "leiter", "bewohnerin", "bewohner",
         "klientin", "klient", "nachbarin", "nachbar", "daughter", "son", "wife", "husband", "nurse",
         "doctor", "colleague", "mother", "father"}
PARTICLES = {"von", "van", "de", "der", "den", "zu", "zur", "al", "el", "bin", "ter", "ten", "da", "di",
             "du", "la", "le", "med", "med."}
DETERMINERS = {"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines",
               "kein", "keine", "keinen", "keinem", "keiner", "dieser", "diese", "diesen", "diesem", "dieses",
               "jede", "jeder", "jeden", "jedem", "jedes", "alle", "allen", "mein", "meine", "meinem", "meinen",
               "dein", "deine", "ihr", "ihre", "ihrem", "ihren", "ihrer", "ihres", "sein", "seine", "seinem",
               "seinen", "seiner", "unser", "unsere", "unserem", "unseren", "unserer", "euer", "eure",
               "zum", "zur", "im", "am", "vom", "beim", "ins", "ans", "the", "your", "our", "his",
               "her", "their", "this", "that", "every", "welche", "welcher", "viele", "mehrere", "einige"}
"""A capitalised word after one of these is a noun ("Ihrem Kind Sonnencreme"), not the start of a name."""
NOT_NAMES = {"sie", "ihr", "ihre", "ihrem", "ihren", "ihrer", "ihres", "ihnen", "du", "dich", "dir", "dein",
             "deine", "euch", "euer", "eure", "i", "uhr", "nr", "tel", "fax", "zimmer", "zi", "raum", "gruppe",
             "bescheid", "auskunft", "rückmeldung", "nachricht", "besuch", "termin", "anfang", "mitte", "ende",
             "liebe", "lieber", "sehr", "geehrte", "geehrter", "bitte", "danke", "dank", "grüße", "grüßen",
             "gruß", "herzliche", "herzlichen", "mit", "und", "oder", "am", "um", "im", "ab", "bis", "von",
             "kita", "team", "eltern", "dear", "mrs", "mr", "ms", "dr", "prof", "frau", "herr", "herrn",
             "entwurf", "ki", "hinweis", "datum", "uhrzeit", "name", "ort", "betreff", "anlage", "anlagen",
             "frohe", "frohes", "schöne", "schönes", "gute", "guten", "gutes", "neues", "ostern", "weihnachten",
             "pfingsten", "silvester", "neujahr", "ferien", "for", "of", "and", "with", "to", "in", "on", "at",
             "from", "by", "about", "kind", "regards", "best", "please", "thank", "thanks", "important"}
NOUN_ENDINGS = ("ung", "heit", "keit", "schaft", "tion", "sion", "tät", "nis", "ment", "ismus", "chen",
                "lein", "ling", "tik", "sik", "apie", "ergie", "logie", "ium", "tur", "enz", "anz", "eit", "erei",
                "zei", "tum", "ose", "mittel", "plan", "dienst", "gang", "zeit", "tag", "abend", "nacht", "morgen",
                "bereich")
"""Endings of German common nouns that names rarely have: a capitalised word ending so is no name."""

_FIRST_NAMES = """
franz lorenz vincent anna maria julia lisa laura sarah sara katharina sabine petra andrea claudia stefanie
nicole sandra susanne christina jana lena lea leonie hannah hanna emma mia sofia sophia emilia lina mila ella
leni clara klara marie johanna luisa amelie charlotte greta frieda ida nele paula lotta martha mathilda helene
gertrud hildegard ingrid ursula helga erika renate elisabeth margarete irmgard waltraud gisela brigitte
christa karin monika inge ilse edith elfriede anneliese hannelore rosemarie marianne gerda lieselotte hans
heinz günter günther werner klaus helmut horst karl kurt manfred gerhard dieter wolfgang jürgen peter walter
friedrich wilhelm heinrich otto rudolf herbert ernst erich fritz bernd uwe rainer norbert thomas michael
andreas stefan christian markus martin tobias jan jonas lukas lucas daniel alexander sebastian florian
matthias frank ralf sven jens dirk oliver philipp simon david tim niklas noah leon paul ben finn elias felix
luis louis henry emil theo anton max moritz jakob jacob liam mats ayşe ayse fatma emine elif zeynep hatice
meryem esra merve mehmet mustafa ahmet ali hüseyin huseyin hasan murat emre yusuf ömer omer ibrahim osman
ismail halil kemal mohammed mohammad muhammad mohamed ahmad ahmed omar fatima aisha aischa leila layla yasmin
jasmin amir karim hamza mariam maryam nour noor samira rania khaled khalid youssef olga natalia natalja
tetiana tatjana oksana iryna irina svetlana swetlana elena jelena anastasia ludmila galina valentina dmytro
oleksandr andrij andriy sergej sergey serhij wladimir vladimir ivan iwan nikolai piotr katarzyna agnieszka
małgorzata malgorzata magdalena krzysztof tomasz ioana andrei mihai elena john james robert mary patricia
jennifer linda susan william richard joseph charles emily olivia
"""
FIRST_NAMES = set(_FIRST_NAMES.split())
"""First names common among residents, children, families and staff: a name even at a sentence's start."""

DRUG_ENDINGS = ("pril", "sartan", "olol", "statin", "prazol", "azepam", "zolam", "profen", "fenac", "amol",
                "oxacin", "mycin", "cillin", "cyclin", "xaban", "gatran", "parin", "semid", "thiazid", "dipin",
                "apin", "idon", "peridol", "cetam", "triptylin", "oxetin", "pramin", "morphin", "codon",
                "morphon", "tanyl", "adol", "thyroxin", "isolon", "cortison", "metason", "formin", "gliptin",
                "gliflozin", "coxib", "vir", "tidin", "setron", "triptan", "lukast", "dronat", "azol",
                "sulfon", "ulin")
"""Endings of active substances (WHO INN stems): "Ramipril", "Metoprolol", "Pantoprazol", "Insulin"."""
DRUG_WORDS = {"medikament", "medikamente", "medikation", "präparat", "wirkstoff", "bedarfsmedikation",
              "bedarfsmedikament", "schmerzmittel", "arznei", "arzneimittel", "medication", "drug", "gabe"}
DRUG_FORMS = ("tropfen", "tabletten", "tablette", "saft", "salbe", "spray", "pflaster", "kapseln", "zäpfchen",
              "creme", "gel", "lösung")
NOT_DRUGS = {"tablette", "tabletten", "tropfen", "kapsel", "kapseln", "saft", "salbe", "spray", "wasser", "tee",
             "kaffee", "milch", "suppe", "bedarf", "einnahme", "gabe", "dosis", "medikament", "medikamente",
             "schmerzmittel", "morgen", "mittag", "abend", "nacht", "uhr", "stunde", "stunden", "tag", "tage",
             "täglich", "frühstück", "essen", "insgesamt", "jeweils", "ca", "etwa", "zusätzlich", "laut",
             "plan", "verordnung", "arzt", "ärztin", "hausarzt", "hausärztin", "trinkmenge", "blutzucker",
             "gewicht", "temperatur", "puls", "blutdruck", "flüssigkeit", "trinknahrung", "portion", "zimmer",
             "kalium", "natrium", "medium", "stadium", "studium", "gremium", "podium", "ministerium"}
"""Capitalised words beside a dose that are not medications (nor is any word ending in "dosis")."""
FEMININE_ROLES = {"tochter", "mutter", "ehefrau", "nichte", "oma", "tante", "schwiegertochter", "schwester"}
"""Roles that are feminine without ending in "-in": after "der" they are a dative ("der Mutter Kuchen")."""
STRUCTURE_WORDS = {"schritt", "phase", "ziel", "teilziel", "punkt", "abschnitt", "kapitel", "block", "frage",
                   "tabelle", "anlage", "variante", "option", "step", "section", "question", "goal", "part",
                   "teil", "nr", "nr.", "nummer", "seite", "page", "auszug", "quelle"}
"""A number after one of these numbers the draft's own parts ("Frage 3"), it is no fact."""
PHONE_WORDS = {"tel", "tel.", "telefon", "telefonnummer", "fax", "mobil", "handy", "durchwahl", "phone",
               "rufnummer", "tel.:", "telefon:", "tel:"}
