"""A small app definition the app tests build on."""

MINIMAL = {
    "id": "dienstplan-tausch", "title": "Dienstplan-Tausch-Anfrage", "description": "Bittet um einen Diensttausch.",
    "inputs": [{"name": "datum", "label": "Datum", "type": "date"},
               {"name": "grund", "label": "Grund", "type": "long_text", "required": False, "max_length": 500}],
    "system_prompt": "Du schreibst kurze, höfliche Anfragen an Kolleginnen.",
    "template": "Tausch am {{ datum }}.{% if grund %} Grund: {{ grund }}{% endif %}",
    "purpose": "Eine Anfrage zum Tausch eines Dienstes formulieren.",
}
