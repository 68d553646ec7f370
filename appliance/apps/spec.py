"""An app as data: the pydantic model behind the YAML files and the JSON of /api/apps.

The same object is written by hand (built-in YAML), by the builder in the browser and by an
import from another facility, so every rule lives here and every error names its field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.apps.cases import MAX_CASES, Case
from appliance.apps.policy import check_purpose
from appliance.apps.prompt import PromptError, compile_template, render
from appliance.apps.sections import MAX_SECTIONS, Layout, Section

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_YAML_BYTES = 256 * 1024


class Category(StrEnum):
    pflege = "Pflege"
    kita = "Kita"
    beratung = "Beratung"
    verwaltung = "Verwaltung"
    team = "Team"
    alle = "Alle"


class InputType(StrEnum):
    text = "text"  # one line
    long_text = "long_text"
    choice = "choice"
    multi_choice = "multi_choice"
    date = "date"
    number = "number"
    file = "file"  # a text document whose text is given to the prompt
    audio = "audio"  # a recording, transcribed before the prompt sees it


class Output(StrEnum):
    text = "text"
    markdown = "markdown"
    letter = "letter"
    table = "table"


class Risk(StrEnum):
    """AI-Act risk class as the author declares it; high and prohibited are never offered."""

    minimal = "minimal"
    limited = "limited"
    high = "high"
    prohibited = "prohibited"


DEFAULT_MAX_LENGTH = {InputType.text: 300, InputType.long_text: 12_000, InputType.file: 60_000,
                      InputType.audio: 60_000}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class InputField(Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN, description="Name im Prompt, z. B. anlass")]
    label: Annotated[str, Field(min_length=1, max_length=120)]
    type: InputType = InputType.text
    required: bool = True
    options: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(default_factory=list, max_length=60)
    max_length: Annotated[int | None, Field(ge=1, le=100_000)] = None
    help: Annotated[str, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _options(self) -> InputField:
        choice = self.type in (InputType.choice, InputType.multi_choice)
        if choice and not self.options:
            raise ValueError("Eine Auswahl braucht mindestens eine Option (options).")
        if not choice and self.options:
            raise ValueError(f"Nur Auswahlfelder haben Optionen, nicht der Typ {self.type.value}.")
        if len(set(self.options)) != len(self.options):
            raise ValueError("Jede Option darf nur einmal vorkommen.")
        return self

    @property
    def sample(self) -> object:
        """A stand-in value, to try a template before anyone fills the form."""
        if self.type is InputType.multi_choice:
            return self.options[:1]
        return {InputType.choice: self.options[0] if self.options else "", InputType.date: "01.01.2026",
                InputType.number: "1"}.get(self.type, self.label)

    @property
    def limit(self) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH.get(self.type, 300)


class Params(Strict):
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.3
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    max_tokens: Annotated[int, Field(ge=16, le=8192)] = 1024
    repeat_penalty: Annotated[float, Field(ge=1.0, le=2.0)] = 1.1  # keeps small models from looping
    model: Annotated[str | None, Field(max_length=100)] = None


class Example(Strict):
    inputs: dict[str, Any]


class AppSpec(Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN, description="klein, mit Bindestrichen, z. B. elternbrief")]
    version: Annotated[int, Field(ge=1)] = 1
    title: Annotated[str, Field(min_length=2, max_length=80)]
    description: Annotated[str, Field(min_length=2, max_length=400)]
    icon: Annotated[str, Field(max_length=16)] = "📝"
    category: Category = Category.alle
    audience: list[str] = Field(default_factory=lambda: ["staff"], min_length=1)
    inputs: list[InputField] = Field(min_length=1, max_length=30)
    system_prompt: Annotated[str, Field(min_length=10, max_length=8000)]
    template: Annotated[str, Field(min_length=2, max_length=8000)]
    params: Params = Field(default_factory=Params)
    collection: Annotated[str | None, Field(max_length=64)] = None
    output: Output = Output.markdown
    examples: list[Example] = Field(default_factory=list, max_length=10)
    sections: list[Section] = Field(default_factory=list, max_length=MAX_SECTIONS)  # fixed parts of the output
    layout: Layout = Layout.line  # how sections are written: "Titel: …" lines or "## Titel" headings
    sections_from: Annotated[str | None, Field(max_length=40)] = None  # a choice field: one section, or all
    cases: list[Case] = Field(default_factory=list, max_length=MAX_CASES)  # evaluation (appliance models check)
    purpose: Annotated[str, Field(min_length=10, max_length=600)]
    risk: Risk = Risk.minimal
    note: Annotated[str, Field(max_length=600)] = ""  # e.g. "Ein Mensch entscheidet."

    @field_validator("audience")
    @classmethod
    def _audience(cls, roles: list[str]) -> list[str]:
        from appliance.people.accounts import Role

        unknown = [r for r in roles if r not in Role.__members__]
        if unknown:
            raise ValueError(f"Unbekannte Rolle: {', '.join(unknown)} (erlaubt: {', '.join(Role.__members__)}).")
        return list(dict.fromkeys(roles))

    @model_validator(mode="after")
    def _consistent(self) -> AppSpec:
        names = [f.name for f in self.inputs]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"Feldnamen kommen doppelt vor: {', '.join(doubles)}.")
        if self.risk in (Risk.high, Risk.prohibited):
            raise ValueError(f"Risikoklasse '{self.risk.value}': solche Apps bietet die Box nicht an"
                             " (EU-KI-Verordnung).")
        refusal = check_purpose(" ".join((self.title, self.description, self.purpose)))
        if refusal:
            raise ValueError(refusal)
        try:
            compile_template(self.template, set(names))
            render(self.template, {f.name: f.sample for f in self.inputs})  # sandbox and limits, tried once
        except PromptError as exc:
            raise ValueError(f"template: {exc}") from exc
        for n, example in enumerate(self.examples, 1):
            extra = sorted(set(example.inputs) - set(names))
            if extra:
                raise ValueError(f"Beispiel {n} nennt Felder, die es nicht gibt: {', '.join(extra)}.")
        for n, case in enumerate(self.cases, 1):
            extra = sorted(set(case.inputs) - set(names))
            if extra:
                raise ValueError(f"Testfall {n} nennt Felder, die es nicht gibt: {', '.join(extra)}.")
        titles = [s.title.casefold() for s in self.sections]
        if len(set(titles)) != len(titles):
            raise ValueError("Jeder Abschnitt (sections) darf nur einmal vorkommen.")
        if self.sections and all(s.optional for s in self.sections):
            raise ValueError("Mindestens ein Abschnitt (sections) muss Pflicht sein.")
        repeats = [s.repeat for s in self.sections]
        if sum(1 for a, b in zip([False, *repeats], repeats, strict=False) if b and not a) > 1:
            raise ValueError("Wiederholte Abschnitte (repeat) müssen direkt aufeinander folgen.")
        if self.sections_from is not None:
            source = next((f for f in self.inputs if f.name == self.sections_from), None)
            if source is None or source.type is not InputType.choice:
                raise ValueError(f"sections_from: „{self.sections_from}“ ist kein Auswahlfeld dieser App.")
        first_repeat = next((s for s in self.sections if s.repeat), None)
        if first_repeat is not None and first_repeat.optional:
            raise ValueError("Ein wiederholter Block beginnt mit einem Pflicht-Abschnitt (optional: false).")
        return self

    def field(self, name: str) -> InputField:
        return next(f for f in self.inputs if f.name == name)

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", exclude_defaults=False)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


class SpecError(ValueError):
    """An app definition is invalid; `problems` lists (field path, German message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in problems))

    @property
    def param(self) -> str | None:
        return self.problems[0][0] or None if self.problems else None


def _location(loc: tuple) -> str:
    return ".".join(str(x) for x in loc)


_PYDANTIC_DE = [
    (r"^Field required$", "Pflichtangabe fehlt."),
    (r"^Extra inputs are not permitted$", "Unbekannter Schlüssel."),
    (r"^String should match pattern '(.+)'$", "Ungültige Schreibweise (erlaubt: {0})."),
    (r"^String should have at least (\d+) characters?$", "Mindestens {0} Zeichen."),
    (r"^String should have at most (\d+) characters?$", "Höchstens {0} Zeichen."),
    (r"^Input should be a valid integer.*$", "Eine ganze Zahl wird erwartet."),
    (r"^Input should be a valid string.*$", "Ein Text wird erwartet."),
    (r"^Input should be a valid number.*$", "Eine Zahl wird erwartet."),
    (r"^Input should be a valid boolean.*$", "Ja oder nein (true/false) wird erwartet."),
    (r"^Input should be a valid list.*$", "Eine Liste wird erwartet."),
    (r"^Input should be a valid dictionary.*$", "Ein Objekt (Schlüssel: Wert) wird erwartet."),
    (r"^Input should be (.+)$", "Erlaubt ist: {0}."),
    (r"^Input should be greater than or equal to (.+)$", "Mindestens {0}."),
    (r"^Input should be less than or equal to (.+)$", "Höchstens {0}."),
    (r"^List should have at least (\d+) items?.*$", "Mindestens {0} Einträge."),
    (r"^List should have at most (\d+) items?.*$", "Höchstens {0} Einträge."),
    (r"^Value error, (.+)$", "{0}"),
]


def _german(message: str) -> str:
    for pattern, german in _PYDANTIC_DE:
        m = re.match(pattern, message, re.S)
        if m:
            return german.format(*m.groups())
    return message


def parse_spec(data: Any) -> AppSpec:
    """Validate a mapping (from YAML or JSON); raises SpecError naming every bad field."""
    if not isinstance(data, dict):
        raise SpecError([("", "Eine App-Beschreibung ist ein Objekt mit Schlüsseln wie id, title, inputs.")])
    try:
        return AppSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_problem(_location(e["loc"]), _german(e["msg"])) for e in exc.errors()]) from None


def _problem(where: str, message: str) -> tuple[str, str]:
    """A template error is found by the whole-app check, but it belongs to the field template."""
    if not where and message.startswith("template: "):
        return "template", message.removeprefix("template: ")
    return where, message


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, first: int, second: int, top: bool) -> None:
        self.key, self.first, self.second, self.top = key, first, second, top


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key written twice in one mapping is an error: safe_load
    would keep the last one without a word, and the first would be lost unnoticed."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._top = node
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults" may be overridden on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = lines.setdefault(key, line)
                except TypeError:  # an unhashable key: safe_load's own error follows
                    continue
                if first != line:
                    raise _DuplicateKey(key, first, line, node is getattr(self, "_top", None))
        return super().construct_mapping(node, deep)


MAX_YAML_NODES = 20_000
"""Values an app file may stand for, aliases expanded: the largest built-in app has about 200."""
MAX_YAML_DEPTH = 20


def load_yaml(text: str | bytes) -> AppSpec:
    if len(text) > MAX_YAML_BYTES:
        raise SpecError([("", f"Die Datei ist zu groß (höchstens {MAX_YAML_BYTES // 1024} KB).")])
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader, stricter still
    except _DuplicateKey as exc:
        raise SpecError([(str(exc.key) if exc.top else "", f"Der Schlüssel „{exc.key}“ steht doppelt da (Zeile"
                          f" {exc.first} und Zeile {exc.second}). Bitte nur einmal angeben.")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (Zeile {mark.line + 1})" if mark else ""
        raise SpecError([("", f"Die Datei ist kein gültiges YAML{where}.")]) from None
    except RecursionError:
        raise SpecError([("", f"Die Datei ist zu tief verschachtelt (höchstens {MAX_YAML_DEPTH} Ebenen).")]) from None
    _check_size(data)
    return parse_spec(data)


def _check_size(data: Any) -> None:
    """YAML's anchors and aliases let a small file stand for a huge one (each alias is the whole
    anchored value again): count what the file stands for, and stop early."""
    seen = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
            why = (f"zu tief verschachtelt (höchstens {MAX_YAML_DEPTH} Ebenen)" if depth > MAX_YAML_DEPTH
                   else f"zu umfangreich (höchstens {MAX_YAML_NODES} Werte, Verweise mitgezählt)")
            raise SpecError([("", f"Die Datei ist {why}.")])
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for pair in value.items() for v in pair)
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
