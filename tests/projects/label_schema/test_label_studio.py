"""Label Studio configs: the supported subset converts to a valid schema; everything else is refused by line."""

import pytest

from core.errors import InvalidInput
from projects.label_schema import label_studio_to_schema, parse_schema
from projects.label_schema.limits import LABEL_CONFIG_MAX_BYTES, LABEL_CONFIG_MAX_ELEMENTS


def refusals(config) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidInput) as raised:
        label_studio_to_schema(config)
    return [(e.field, e.code, e.message) for e in raised.value.errors]


def fields_of(body: str) -> list[dict]:
    return label_studio_to_schema(f"<View>{body}</View>")["fields"]


FULL_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<View style="display: flex">
  <Header value="Read the text"/>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text">
    <Label value="PER" background="red" hotkey="p"/>
    <Label value="Organisation" alias="ORG"/>
  </Labels>
  <Choices name="Sentiment" toName="text" choice="single-radio" required="true" showInline="true">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
  <Rating name="rating" toName="text" maxRating="10" icon="star"
          visibleWhen="choice-selected" whenTagName="Sentiment" whenChoiceValue="Positive"/>
  <TextArea name="answer" toName="text" rows="4" maxSubmissions="1" placeholder="Why?"/>
  <Image name="img" value="$image"/>
  <RectangleLabels name="bbox" toName="img"><Label value="Car"/></RectangleLabels>
  <List name="items" value="$responses" title="Responses"/>
  <Ranker name="rank" toName="items"/>
  <Pairwise name="pw" toName="items" selectionStyle="background: green"/>
  <Number name="num" toName="text" min="0" max="10"/>
  <Paragraphs name="dialogue" value="$dialogue" layout="dialogue"/>
  <Choices name="topics" toName="dialogue" choice="multiple">
    <View><Choice value="billing"/><Choice value="bug"/></View>
  </Choices>
</View>
"""


def test_a_full_config_converts_to_a_valid_schema():
    document = label_studio_to_schema(FULL_CONFIG)

    assert document == {
        "fields": [
            {
                "name": "ner",
                "type": "spans",
                "required": False,
                "source": "text",
                "labels": ["PER", "ORG"],
                "allow_overlap": True,
            },
            {
                "name": "sentiment",
                "type": "choices",
                "required": True,
                "options": ["Positive", "Negative"],
                "multiple": False,
                "source": "text",
            },
            {
                "name": "rating",
                "type": "rating",
                "required": False,
                "when": {"field": "sentiment", "equals": "Positive"},
                "min": 1,
                "max": 10,
                "source": "text",
            },
            {"name": "answer", "type": "text", "required": False, "source": "text"},
            {"name": "bbox", "type": "boxes", "required": False, "source": "image", "labels": ["Car"]},
            {"name": "rank", "type": "ranking", "required": False, "source": "responses", "allow_ties": False},
            {
                "name": "pw",
                "type": "pairwise",
                "required": False,
                "source": "responses",
                "allow_tie": False,
                "strength": False,
                "rationale": "none",
            },
            {"name": "num", "type": "rating", "required": False, "min": 0, "max": 10, "source": "text"},
            {
                "name": "topics",
                "type": "choices",
                "required": False,
                "options": ["billing", "bug"],
                "multiple": True,
                "source": "dialogue",
            },
        ]
    }
    assert parse_schema(document).names == (
        "ner",
        "sentiment",
        "rating",
        "answer",
        "bbox",
        "rank",
        "pw",
        "num",
        "topics",
    )


def test_bytes_are_read_as_well_as_text():
    config = b'<View><Text name="t" value="$t"/><Rating name="r" toName="t"/></View>'

    assert label_studio_to_schema(config) == {
        "fields": [{"name": "r", "type": "rating", "required": False, "min": 1, "max": 5, "source": "t"}]
    }


def test_controls_without_a_readable_source_keep_none():
    assert fields_of('<Text name="t" value="literal text"/><TextArea name="a" toName="t"/><TextArea name="b"/>') == [
        {"name": "a", "type": "text", "required": False},
        {"name": "b", "type": "text", "required": False},
    ]


def test_control_names_become_field_names():
    body = "".join(f'<TextArea name="{name}"/>' for name in ("Answer-1", "1st", "a b", "a_b", "---", "x" * 80))

    assert [f["name"] for f in fields_of(body)] == ["answer_1", "f_1st", "a_b", "a_b_2", "field", "x" * 60]


def test_tag_names_are_case_insensitive():
    assert fields_of(
        '<text name="t" value="$t"/><choices name="c" toname="t"><choice value="a"/><choice value="b"/></choices>'
    ) == [{"name": "c", "type": "choices", "required": False, "options": ["a", "b"], "multiple": False, "source": "t"}]


# --- refusals ---


def one_refusal(config) -> tuple[str, str]:
    [(field, code, message)] = refusals(config)
    assert field == "label_config"
    return code, message


REFUSALS = [
    pytest.param(
        '<!DOCTYPE View [<!ENTITY a "aaaa">]><View/>',
        "not_allowed",
        "Line 1: DOCTYPE and entity declarations are not accepted.",
        id="doctype",
    ),
    pytest.param(
        '<!DOCTYPE View SYSTEM "http://example.org/x.dtd"><View/>',
        "not_allowed",
        "Line 1: DOCTYPE and entity declarations are not accepted.",
        id="external-dtd",
    ),
    pytest.param(
        "<View>&xxe;</View>", "invalid_xml", "Line 1: not well-formed XML (undefined entity).", id="entity-reference"
    ),
    pytest.param(
        "<View>\n<Text name='t'>\n</View>",
        "invalid_xml",
        "Line 3: not well-formed XML (mismatched tag).",
        id="malformed",
    ),
    pytest.param("", "invalid_xml", "Line 1: not well-formed XML (no element found).", id="empty"),
    pytest.param(
        "<Choices name='c'/>", "invalid_xml", "Line 1: the config must start with <View>, not <Choices>.", id="no-view"
    ),
    pytest.param(
        "<View>\n  <Taxonomy name='t' toName='x'/>\n</View>",
        "unsupported_tag",
        'Line 2, <Taxonomy name="t">: this tag is not supported. Supported: View, Header, Style, Text, Image, '
        "List, Paragraphs, Choices, Rating, TextArea, Labels, RectangleLabels, Pairwise, Ranker, Number.",
        id="unsupported-tag",
    ),
    pytest.param(
        "<View><HyperText name='h' value='$html'/></View>",
        "unsupported_tag",
        'Line 1, <HyperText name="h">: HTML content is not supported; task text is always shown as plain text '
        "(use <Text>).",
        id="hypertext",
    ),
    pytest.param(
        "<View><Choice value='a'/></View>",
        "unsupported_tag",
        "Line 1, <Choice>: <Choice> belongs inside a Choices, Labels or RectangleLabels tag.",
        id="stray-choice",
    ),
    pytest.param(
        "<View><Text name='t' value='$url' valueType='url'/></View>",
        "unsupported_attribute",
        'Line 1, <Text name="t">: valueType other than text is not supported: put the text itself in the task data.',
        id="text-by-url",
    ),
    pytest.param(
        "<View><Text value='$t'/></View>",
        "required",
        "Line 1, <Text>: an object tag needs a name.",
        id="object-without-name",
    ),
    pytest.param(
        "<View><Text name='t' value='$a'/><Image name='t' value='$b'/></View>",
        "duplicate",
        "Line 1, <Image name=\"t\">: another tag is already named 't'.",
        id="duplicate-object",
    ),
    pytest.param(
        "<View><TextArea toName='t'/></View>",
        "required",
        "Line 1, <TextArea>: a control tag needs a name.",
        id="control-without-name",
    ),
    pytest.param(
        "<View><TextArea name='a'/><TextArea name='a'/></View>",
        "duplicate",
        "Line 1, <TextArea name=\"a\">: another control is already named 'a'.",
        id="duplicate-control",
    ),
    pytest.param(
        "<View><Text name='t' value='$t'/><TextArea name='a' toName='t' perRegion='true'/></View>",
        "unsupported_attribute",
        'Line 1, <TextArea name="a">: perRegion (per-region answers) is not supported.',
        id="per-region",
    ),
    pytest.param(
        "<View><Text name='t' value='$t'/>"
        "<Labels name='l' toName='t' choice='multiple'><Label value='A'/></Labels></View>",
        "unsupported_attribute",
        'Line 1, <Labels name="l">: choice="multiple" (several labels on one span) is not supported.',
        id="multi-label-spans",
    ),
    pytest.param(
        "<View><Labels name='l'><Label value='A'/></Labels></View>",
        "required",
        'Line 1, <Labels name="l">: toName is required.',
        id="labels-without-toname",
    ),
    pytest.param(
        "<View><Labels name='l' toName='nope'><Label value='A'/></Labels></View>",
        "invalid_reference",
        "Line 1, <Labels name=\"l\">: toName 'nope' names no object tag.",
        id="toname-unknown",
    ),
    pytest.param(
        "<View><Image name='i' value='$i'/><Labels name='l' toName='i'><Label value='A'/></Labels></View>",
        "invalid_reference",
        'Line 1, <Labels name="l">: toName must name a <Text>, not <Image>.',
        id="labels-over-image",
    ),
    pytest.param(
        "<View><Text name='t' value='$t'/><Text name='u' value='$u'/><Choices name='c' toName='t,u'>"
        "<Choice value='a'/><Choice value='b'/></Choices></View>",
        "unsupported_attribute",
        'Line 1, <Choices name="c">: toName must name one object tag here.',
        id="toname-list",
    ),
    pytest.param(
        "<View><Text name='t' value='text'/><Labels name='l' toName='t'><Label value='A'/></Labels></View>",
        "invalid_attribute",
        'Line 1, <Text name="t">: value must name a task data key, as in value="$text".',
        id="literal-object-value",
    ),
    pytest.param(
        "<View><Text name='a' value='$a'/><Text name='b' value='$b'/><Pairwise name='p' toName='a,b'/></View>",
        "unsupported_attribute",
        'Line 1, <Pairwise name="p">: toName names two objects; a pairwise field reads one task data key holding '
        'both candidates [{"id", "content"}, {"id", "content"}]: point toName at a <List value="$responses">.',
        id="pairwise-two-objects",
    ),
    pytest.param(
        "<View><List name='l' value='$items'/><Ranker name='r' toName='l'><Bucket name='b'/></Ranker></View>",
        "unsupported_tag",
        'Line 1, <Ranker name="r">: buckets are not supported; a ranking orders all candidates.',
        id="ranker-buckets",
    ),
    pytest.param(
        "<View><Text name='t' value='$t'/><Ranker name='r' toName='t'/></View>",
        "invalid_reference",
        'Line 1, <Ranker name="r">: toName must name a <List>, not <Text>.',
        id="ranker-over-text",
    ),
    pytest.param(
        "<View><Number name='n' min='1'/></View>",
        "required",
        'Line 1, <Number name="n">: max is required.',
        id="number-no-max",
    ),
    pytest.param(
        "<View><Number name='n' min='0' max='1' step='0.1'/></View>",
        "unsupported_attribute",
        'Line 1, <Number name="n">: only whole numbers (step 1) convert to a rating.',
        id="number-step",
    ),
    pytest.param(
        "<View><Rating name='r' maxRating='ten'/></View>",
        "invalid_attribute",
        "Line 1, <Rating name=\"r\">: maxRating must be an integer, not 'ten'.",
        id="rating-not-a-number",
    ),
    pytest.param(
        "<View><Choices name='c' choice='some'><Choice value='a'/><Choice value='b'/></Choices></View>",
        "invalid_attribute",
        'Line 1, <Choices name="c">: choice must be "single", "single-radio" or "multiple", not \'some\'.',
        id="choice-mode",
    ),
    pytest.param(
        "<View><Choices name='c'><Choice value='a'/><Choice/></Choices></View>",
        "required",
        "Line 1, <Choice>: value is required.",
        id="choice-without-value",
    ),
    pytest.param(
        "<View><Choices name='c'><Choice value='a'/><Label value='b'/></Choices></View>",
        "unsupported_tag",
        "Line 1, <Label>: <Choices> may only contain <Choice> tags.",
        id="foreign-item",
    ),
    pytest.param(
        "<View><Choices name='c'><Choice value='a'/><Choice value='b'/></Choices>"
        "<TextArea name='t' visibleWhen='region-selected'/></View>",
        "unsupported_attribute",
        'Line 1, <TextArea name="t">: only visibleWhen="choice-selected" with whenTagName and one whenChoiceValue '
        "is supported.",
        id="visible-when-region",
    ),
    pytest.param(
        "<View><Choices name='c'><Choice value='a'/><Choice value='b'/></Choices>"
        "<TextArea name='t' visibleWhen='choice-selected' whenTagName='c' whenChoiceValue='a,b'/></View>",
        "unsupported_attribute",
        'Line 1, <TextArea name="t">: a condition tests one whenChoiceValue, not a list.',
        id="visible-when-list",
    ),
    pytest.param(
        "<View><TextArea name='t' visibleWhen='choice-selected' whenTagName='zz' whenChoiceValue='a'/></View>",
        "invalid_reference",
        "Line 1, <TextArea name=\"t\">: whenTagName 'zz' names no control tag.",
        id="visible-when-unknown",
    ),
    # problems found by the schema validation, told by the line of the tag they come from
    pytest.param(
        "<View>\n<Choices name='c'>\n<Choice value='a'/></Choices></View>",
        "too_few",
        'Line 2, <Choices name="c"> (options): Give at least 2 options.',
        id="one-choice",
    ),
    pytest.param(
        "<View><Choices name='c'><Choice value='a'/><Choice value='a'/></Choices></View>",
        "duplicate",
        "Line 1, <Choices name=\"c\"> (options[1]): 'a' appears more than once.",
        id="duplicate-choice",
    ),
    pytest.param(
        "<View><TextArea name='t' visibleWhen='choice-selected' whenTagName='c' whenChoiceValue='a'/>"
        "<Choices name='c'><Choice value='a'/><Choice value='b'/></Choices></View>",
        "invalid_reference",
        "Line 1, <TextArea name=\"t\"> (when.field): 'c' is defined after this field; a condition may only refer "
        "to an earlier field.",
        id="condition-on-later-control",
    ),
    pytest.param(
        "<View><Rating name='r' maxRating='200'/></View>",
        "out_of_range",
        'Line 1, <Rating name="r"> (max): A scale spans at most 100 points; 1..200 spans 199.',
        id="rating-too-wide",
    ),
    pytest.param("<View></View>", "too_few", "A schema needs at least 1 field.", id="no-control"),
]


@pytest.mark.parametrize(("config", "code", "message"), REFUSALS)
def test_refusals_name_the_tag_and_line(config, code, message):
    assert one_refusal(config) == (code, message)


def test_every_problem_is_reported():
    config = "<View>\n<Taxonomy name='a'/>\n<Video name='v' value='$v'/>\n<Number name='n'/>\n</View>"

    assert [code for _, code, _ in refusals(config)] == ["unsupported_tag", "unsupported_tag", "required", "required"]


def test_entity_expansion_is_refused_before_it_can_grow():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
        + "]><View>&lol9;</View>"
    )

    assert one_refusal(laughs)[0] == "not_allowed"


def test_the_config_size_and_element_count_are_bounded():
    too_big = "<View>" + " " * LABEL_CONFIG_MAX_BYTES + "</View>"
    too_many = "<View>" + "<Header/>" * LABEL_CONFIG_MAX_ELEMENTS + "</View>"

    assert one_refusal(too_big)[0] == "too_large"
    assert one_refusal(too_many) == ("too_large", f"The config has more than {LABEL_CONFIG_MAX_ELEMENTS} elements.")


def test_deep_nesting_is_read_without_recursion():
    depth = LABEL_CONFIG_MAX_ELEMENTS - 1
    config = "<View>" * depth + '<TextArea name="a"/>' + "</View>" * depth

    assert label_studio_to_schema(config) == {"fields": [{"name": "a", "type": "text", "required": False}]}
