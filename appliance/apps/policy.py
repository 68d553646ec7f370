"""What an app may be for: the EU AI Act's prohibited and high-risk uses are refused.

A declared purpose (with the title and description) is checked against the uses DOMAIN.md
names. The check is deliberately plain (word patterns, German and English): it stops an app
that says what it is for; the declared risk class and the review by a person do the rest.
"""

from __future__ import annotations

import re

_RULES: list[tuple[str, str]] = [
    # prohibited (Art. 5): emotions of staff or children at work or in education
    (r"(emotion|gefühl|stimmung|gemütszustand|gesichtsausdr|mimik)\w*.{0,60}(erkenn|erfass|auswert|analys|"
     r"detect|recogni|infer|ablesen|bestimm)|(erkenn|erfass|analys|detect|recogni)\w*.{0,40}(emotion|gefühl|"
     r"stimmung)", "Gefühle oder Stimmungen von Menschen aus Stimme oder Gesicht zu erkennen ist verboten "
                   "(EU-KI-Verordnung, Art. 5)."),
    # high risk (Annex III): employment
    (r"(bewerb|kandidat|applicant|candidate)\w*.{0,60}(rank|sortier|bewert|auswähl|auswahl|vorauswahl|screen|filter|"
     r"einstuf|beurteil|score|punkte)|(rank|screen|bewert|sortier|filter)\w*.{0,40}(bewerb|kandidat|applicant)",
     "Bewerbungen zu sichten, zu bewerten oder zu ranken ist ein Hochrisiko-Einsatz (EU-KI-Verordnung, Anhang III)."),
    (r"(mitarbeit|beschäftigt|personal|kolleg|staff|employee)\w*.{0,60}(bewert|beurteil|leistung|überwach|kontroll|"
     r"evaluat|monitor|rank)|leistungsbeurteilung|mitarbeiterbewertung|performance review",
     "Beschäftigte zu bewerten oder zu überwachen ist ein Hochrisiko-Einsatz (EU-KI-Verordnung, Anhang III)."),
    # high risk: access to essential services and benefits
    (r"(anspruch|berechtigung|bewilligung|eligib|förderfähigkeit\s+von\s+person|leistungsgewährung)\w*.{0,60}"
     r"(prüf|entscheid|feststell|bewert|decide|assess)|(entscheid|decide)\w*.{0,40}(leistung|hilfe|benefit|"
     r"kita-?platz|platzvergabe)|platzvergabe|vergabe\s+von\s+(kita-?)?plätzen",
     "Über Ansprüche, Leistungen oder Plätze zu entscheiden ist ein Hochrisiko-Einsatz (EU-KI-Verordnung, "
     "Anhang III). Das entscheidet ein Mensch."),
    (r"risiko-?(score|wert|bewertung|einschätzung|profil)\w*.{0,40}(klient|bewohner|kind|famil|person|patient)|"
     r"(klient|bewohner|kind|famil|patient)\w*.{0,40}risiko-?(score|wert|bewertung)|risk scor|social scor",
     "Risikowerte über Menschen zu berechnen ist ein Hochrisiko-Einsatz (EU-KI-Verordnung, Anhang III)."),
    (r"pflegegrad\w*.{0,40}(empfehl|vorschlag|einstuf|bestimm|ermittel|festleg)|(empfehl|einstuf|ermittel)\w*.{0,40}"
     r"pflegegrad|hilfeplan\w*.{0,40}(entscheid|empfehl|festleg)",
     "Empfehlungen zu Pflegegraden oder Hilfeplänen sind ein Hochrisiko-Einsatz (EU-KI-Verordnung, Anhang III). "
     "Das entscheidet ein Mensch."),
]
_COMPILED = [(re.compile(p, re.IGNORECASE | re.DOTALL), reason) for p, reason in _RULES]


def check_purpose(text: str) -> str | None:
    """The reason an app with this purpose is refused, or None when it may be offered."""
    for pattern, reason in _COMPILED:
        if pattern.search(text):
            return reason
    return None
