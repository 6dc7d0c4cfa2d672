"""Convert a Label Studio labelling config (XML) into a label schema document.

A documented subset is understood (docs/label-schemas.md, "Label Studio configs"): the control tags Choices,
Rating, TextArea, Labels, RectangleLabels, Pairwise, Ranker and Number; the object tags Text, Image, List and
Paragraphs, whose `value="$key"` names the task data key a control's `toName` reads; and the layout tags View,
Header and Style. Anything else is refused with its tag and line. The XML is parsed without DTDs: a DOCTYPE,
entity declarations and external entities are refused, and the input and its element count are bounded.
"""

import re
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from core.errors import ErrorList, InvalidInput
from projects.label_schema.definition import parse_schema
from projects.label_schema.limits import LABEL_CONFIG_MAX_BYTES, LABEL_CONFIG_MAX_ELEMENTS, SOURCE_PATTERN

_LAYOUT = {"view", "header", "style"}
_OBJECTS = {"text": "Text", "image": "Image", "list": "List", "paragraphs": "Paragraphs"}
_CONTROLS = {"choices", "rating", "textarea", "labels", "rectanglelabels", "pairwise", "ranker", "number"}
_ITEMS = {"choice", "label"}  # children of Choices / Labels / RectangleLabels
# Attributes that change what an answer means and have no equivalent in a label schema.
_REFUSED_ATTRIBUTES = {"perRegion": "per-region answers", "perItem": "per-item answers"}
_SCHEMA_ERROR = re.compile(r"^[^\[]*\.fields\[(\d+)\]\.?(.*)$")


class _Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class _Element:
    tag: str  # lower-cased
    name: str  # as written
    attrs: dict[str, str]  # attribute names lower-cased
    line: int
    children: list["_Element"] = field(default_factory=list)

    def where(self) -> str:
        label = f' name="{self.attrs["name"]}"' if "name" in self.attrs else ""
        return f"Line {self.line}, <{self.name}{label}>"

    def walk(self) -> list["_Element"]:
        """This element and all below it, in document order. Iterative: nesting depth is bounded only by the
        element count."""
        found: list[_Element] = []
        stack = [self]
        while stack:
            element = stack.pop()
            found.append(element)
            stack.extend(reversed(element.children))
        return found


def label_studio_to_schema(config: str | bytes, *, path: str = "label_config") -> dict[str, Any]:
    """Translate a Label Studio labelling config into a label schema document, which is also validated.

    Raises `InvalidInput` with every problem at `path`, each message naming the line and tag concerned.
    Field names are the controls' names, lower-cased with other characters turned into `_`.
    """
    errors = ErrorList()
    root = _parse(config, path, errors)
    errors.raise_if_any("The Label Studio config cannot be read.")
    assert root is not None  # no errors means the XML parsed
    converter = _Converter(path, errors)
    document = converter.convert(root)
    errors.raise_if_any("The Label Studio config cannot be converted.")
    try:
        parse_schema(document)
    except InvalidInput as exc:
        for item in exc.errors:
            errors.add(path, converter.explain(item.field, item.message), item.code)
        errors.raise_if_any("The Label Studio config does not give a valid label schema.")
    return document


def _parse(config: str | bytes, path: str, errors: ErrorList) -> _Element | None:
    raw = config.encode() if isinstance(config, str) else config
    if len(raw) > LABEL_CONFIG_MAX_BYTES:
        errors.add(path, f"The config is {len(raw)} bytes; at most {LABEL_CONFIG_MAX_BYTES} are read.", "too_large")
        return None
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []
    count = 0

    def refuse_dtd(*_args: Any) -> None:
        raise _Refused(
            f"Line {parser.CurrentLineNumber}: DOCTYPE and entity declarations are not accepted.", "not_allowed"
        )

    def external(*_args: Any) -> int:
        raise _Refused(f"Line {parser.CurrentLineNumber}: external entities are not accepted.", "not_allowed")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > LABEL_CONFIG_MAX_ELEMENTS:
            raise _Refused(f"The config has more than {LABEL_CONFIG_MAX_ELEMENTS} elements.", "too_large")
        element = _Element(name.lower(), name, {k.lower(): v for k, v in attrs.items()}, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_name: str) -> None:
        stack.pop()

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(raw, True)
    except _Refused as exc:
        errors.add(path, exc.message, exc.code)
        return None
    except expat.ExpatError as exc:
        errors.add(path, f"Line {exc.lineno}: not well-formed XML ({expat.errors.messages[exc.code]}).", "invalid_xml")
        return None
    root = roots[0]
    if root.tag != "view":
        errors.add(path, f"Line {root.line}: the config must start with <View>, not <{root.name}>.", "invalid_xml")
        return None
    return root


class _Converter:
    def __init__(self, path: str, errors: ErrorList) -> None:
        self.path = path
        self.errors = errors
        self.objects: dict[str, _Element] = {}
        self.names: dict[str, str] = {}  # control name → field name
        self.controls: list[_Element] = []  # by field index

    def fail(self, element: _Element, message: str, code: str) -> None:
        self.errors.add(self.path, f"{element.where()}: {message}", code)

    def explain(self, schema_path: str, message: str) -> str:
        """A schema error, told in terms of the XML it came from."""
        match = _SCHEMA_ERROR.match(schema_path)
        if match is None or int(match.group(1)) >= len(self.controls):
            return message
        detail = f" ({match.group(2)})" if match.group(2) else ""
        return f"{self.controls[int(match.group(1))].where()}{detail}: {message}"

    def convert(self, root: _Element) -> dict[str, Any]:
        elements = root.walk()
        inside_controls = {id(item) for element in elements if element.tag in _CONTROLS for item in element.walk()[1:]}
        for element in elements:
            if id(element) in inside_controls:
                continue  # a control checks its own content
            if element.tag in _OBJECTS:
                self._add_object(element)
            elif element.tag in _CONTROLS:
                self._add_control(element)
            elif element.tag not in _LAYOUT:
                self.fail(element, self._unsupported(element), "unsupported_tag")
        fields: list[dict[str, Any]] = []
        for element in elements:
            if element.tag not in _CONTROLS or id(element) in inside_controls:
                continue
            converted = self._control(element)
            if converted is not None:
                fields.append(converted)
                self.controls.append(element)
        return {"fields": fields}

    @staticmethod
    def _unsupported(element: _Element) -> str:
        if element.tag == "hypertext":
            return "HTML content is not supported; task text is always shown as plain text (use <Text>)."
        if element.tag in _ITEMS:
            return f"<{element.name}> belongs inside a Choices, Labels or RectangleLabels tag."
        return (
            "this tag is not supported. Supported: View, Header, Style, Text, Image, List, Paragraphs, Choices, "
            "Rating, TextArea, Labels, RectangleLabels, Pairwise, Ranker, Number."
        )

    def _add_object(self, element: _Element) -> None:
        name = element.attrs.get("name")
        if not name:
            self.fail(element, "an object tag needs a name.", "required")
        elif name in self.objects:
            self.fail(element, f"another tag is already named {name!r}.", "duplicate")
        elif element.tag == "text" and element.attrs.get("valuetype", "text").lower() != "text":
            self.fail(
                element,
                "valueType other than text is not supported: put the text itself in the task data.",
                "unsupported_attribute",
            )
        else:
            self.objects[name] = element

    def _add_control(self, element: _Element) -> None:
        name = element.attrs.get("name")
        if not name:
            return  # reported when the control is converted
        if name in self.names:
            self.fail(element, f"another control is already named {name!r}.", "duplicate")
        else:
            self.names[name] = self._field_name(name)

    def _field_name(self, raw: str) -> str:
        base = re.sub(r"[^a-z0-9_]", "_", raw.lower()).strip("_") or "field"
        if not base[0].isalpha():
            base = f"f_{base}"
        base = base[:60]
        name, n = base, 1
        while name in self.names.values():
            n += 1
            name = f"{base}_{n}"
        return name

    def _control(self, element: _Element) -> dict[str, Any] | None:
        before = len(self.errors.items)
        if element.attrs.get("name") not in self.names:
            if not element.attrs.get("name"):
                self.fail(element, "a control tag needs a name.", "required")
            return None
        for attribute, meaning in _REFUSED_ATTRIBUTES.items():
            if element.attrs.get(attribute.lower(), "false").lower() == "true":
                self.fail(element, f"{attribute} ({meaning}) is not supported.", "unsupported_attribute")
        document: dict[str, Any] = {
            "name": self.names[element.attrs["name"]],
            "type": "",
            "required": element.attrs.get("required", "false").lower() == "true",
        }
        when = self._condition(element)
        if when is not None:
            document["when"] = when
        specific = getattr(self, f"_convert_{element.tag}")(element)
        if specific is None or len(self.errors.items) != before:
            return None
        document.update(specific)
        return document

    def _condition(self, element: _Element) -> dict[str, Any] | None:
        visible = element.attrs.get("visiblewhen")
        if visible is None:
            return None
        tag_name, value = element.attrs.get("whentagname"), element.attrs.get("whenchoicevalue")
        if visible != "choice-selected" or not tag_name or value is None:
            self.fail(
                element,
                'only visibleWhen="choice-selected" with whenTagName and one whenChoiceValue is supported.',
                "unsupported_attribute",
            )
            return None
        if "," in value:
            self.fail(element, "a condition tests one whenChoiceValue, not a list.", "unsupported_attribute")
            return None
        if tag_name not in self.names:
            self.fail(element, f"whenTagName {tag_name!r} names no control tag.", "invalid_reference")
            return None
        return {"field": self.names[tag_name], "equals": value}

    def _source(self, element: _Element, kinds: tuple[str, ...], *, required: bool) -> str | None:
        to_name = element.attrs.get("toname", "")
        if not to_name:
            if required:
                self.fail(element, "toName is required.", "required")
            return None
        if "," in to_name:
            self.fail(element, "toName must name one object tag here.", "unsupported_attribute")
            return None
        target = self.objects.get(to_name)
        if target is None:
            self.fail(element, f"toName {to_name!r} names no object tag.", "invalid_reference")
            return None
        if target.tag not in kinds:
            wanted = " or ".join(f"<{_OBJECTS[k]}>" for k in kinds)
            self.fail(element, f"toName must name a {wanted}, not <{target.name}>.", "invalid_reference")
            return None
        value = target.attrs.get("value", "")
        if value.startswith("$") and SOURCE_PATTERN.fullmatch(value[1:]):
            return value[1:]
        if required:
            self.fail(target, 'value must name a task data key, as in value="$text".', "invalid_attribute")
        return None

    def _integer(self, element: _Element, attribute: str, default: int | None = None) -> int | None:
        raw = element.attrs.get(attribute.lower())
        if raw is None:
            if default is None:
                self.fail(element, f"{attribute} is required.", "required")
            return default
        if not re.fullmatch(r"-?\d{1,7}", raw.strip()):
            self.fail(element, f"{attribute} must be an integer, not {raw!r}.", "invalid_attribute")
            return None
        return int(raw)

    def _items(self, element: _Element, tag: str) -> list[str]:
        values: list[str] = []
        for item in element.walk()[1:]:
            if item.tag in _LAYOUT:
                continue
            if item.tag != tag:
                self.fail(item, f"<{element.name}> may only contain <{tag.capitalize()}> tags.", "unsupported_tag")
                continue
            value = item.attrs.get("alias") or item.attrs.get("value")
            if value is None:
                self.fail(item, "value is required.", "required")
            else:
                values.append(value)
        return values

    def _convert_choices(self, element: _Element) -> dict[str, Any] | None:
        mode = element.attrs.get("choice", "single").lower()
        if mode not in ("single", "single-radio", "multiple"):
            self.fail(
                element, f'choice must be "single", "single-radio" or "multiple", not {mode!r}.', "invalid_attribute"
            )
        specific: dict[str, Any] = {
            "type": "choices",
            "options": self._items(element, "choice"),
            "multiple": mode == "multiple",
        }
        source = self._source(element, tuple(_OBJECTS), required=False)
        return {**specific, "source": source} if source else specific

    def _convert_rating(self, element: _Element) -> dict[str, Any] | None:
        top = self._integer(element, "maxRating", default=5)
        source = self._source(element, tuple(_OBJECTS), required=False)
        specific = {"type": "rating", "min": 1, "max": top}
        return {**specific, "source": source} if source else specific

    def _convert_number(self, element: _Element) -> dict[str, Any] | None:
        if element.attrs.get("step", "1").strip() != "1":
            self.fail(element, "only whole numbers (step 1) convert to a rating.", "unsupported_attribute")
        low, high = self._integer(element, "min"), self._integer(element, "max")
        source = self._source(element, tuple(_OBJECTS), required=False)
        specific = {"type": "rating", "min": low, "max": high}
        return {**specific, "source": source} if source else specific

    def _convert_textarea(self, element: _Element) -> dict[str, Any] | None:
        source = self._source(element, tuple(_OBJECTS), required=False)
        return {"type": "text", "source": source} if source else {"type": "text"}

    def _convert_labels(self, element: _Element) -> dict[str, Any] | None:
        if element.attrs.get("choice", "single").lower() == "multiple":
            self.fail(
                element, 'choice="multiple" (several labels on one span) is not supported.', "unsupported_attribute"
            )
        source = self._source(element, ("text",), required=True)
        # Label Studio lets spans overlap; keep that, so configs convert without changing their meaning.
        return {"type": "spans", "source": source, "labels": self._items(element, "label"), "allow_overlap": True}

    def _convert_rectanglelabels(self, element: _Element) -> dict[str, Any] | None:
        source = self._source(element, ("image",), required=True)
        return {"type": "boxes", "source": source, "labels": self._items(element, "label")}

    def _convert_pairwise(self, element: _Element) -> dict[str, Any] | None:
        if "," in element.attrs.get("toname", ""):
            self.fail(
                element,
                "toName names two objects; a pairwise field reads one task data key holding both candidates "
                '[{"id", "content"}, {"id", "content"}]: point toName at a <List value="$responses">.',
                "unsupported_attribute",
            )
            return None
        source = self._source(element, ("list",), required=True)
        # Label Studio's Pairwise picks left or right, with neither ties nor a rationale.
        return {"type": "pairwise", "source": source, "allow_tie": False, "strength": False, "rationale": "none"}

    def _convert_ranker(self, element: _Element) -> dict[str, Any] | None:
        if element.children:
            self.fail(element, "buckets are not supported; a ranking orders all candidates.", "unsupported_tag")
        source = self._source(element, ("list",), required=True)
        return {"type": "ranking", "source": source, "allow_ties": False}
