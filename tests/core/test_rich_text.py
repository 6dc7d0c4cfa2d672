"""Guidelines from Markdown: what is kept, and what hostile input becomes."""

import pytest
from django.template import Context, Template

from core.rich_text import markdown_to_html

REL = 'rel="noopener noreferrer nofollow"'


def test_markdown_becomes_html_with_headings_below_the_page_heading():
    text = "# Labels\n\nPick **one**, not *two*.\n\n## Edge cases\n\n- sarcasm\n- quotes\n\n1. read\n2. decide"

    assert markdown_to_html(text) == (
        "<h3>Labels</h3>\n<p>Pick <strong>one</strong>, not <em>two</em>.</p>\n<h4>Edge cases</h4>\n"
        "<ul>\n<li>sarcasm</li>\n<li>quotes</li>\n</ul>\n<ol>\n<li>read</li>\n<li>decide</li>\n</ol>"
    )


def test_tables_and_code_are_kept_without_inline_styles():
    text = "| label | when |\n|:--|--:|\n| pos | happy |\n\n```\nif x < 1: pass\n```"

    assert markdown_to_html(text) == (
        "<table>\n<thead>\n<tr>\n<th>label</th>\n<th>when</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
        "<td>pos</td>\n<td>happy</td>\n</tr>\n</tbody>\n</table>\n<pre><code>if x &lt; 1: pass\n</code></pre>"
    )


def test_links_keep_their_address_and_reveal_nothing_to_the_site_they_open():
    assert markdown_to_html("See [the paper](https://example.org/p 'Paper').") == (
        f'<p>See <a href="https://example.org/p" title="Paper" {REL}>the paper</a>.</p>'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("Hi <script>alert(1)</script> there", "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; there</p>"),
        ("<div onclick='steal()'>raw</div>", "<p>&lt;div onclick='steal()'&gt;raw&lt;/div&gt;</p>"),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
        (
            "<iframe src='https://evil.example'></iframe>",
            "<p>&lt;iframe src='https://evil.example'&gt;&lt;/iframe&gt;</p>",
        ),
        ("<!-- hidden --> shown", "<p>&lt;!-- hidden --&gt; shown</p>"),
        ("a <b>bold</b> claim", "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>"),
    ],
)
def test_raw_html_is_shown_as_text_never_as_markup(text, expected):
    assert markdown_to_html(text) == expected


@pytest.mark.parametrize(
    "address",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"],
)
def test_links_to_script_or_data_lose_their_address(address):
    assert markdown_to_html(f"[click]({address})") == f"<p><a {REL}>click</a></p>"


def test_attributes_asked_for_in_markdown_are_not_kept():
    assert markdown_to_html("[x](https://example.org){: onclick=steal() }") == (
        f'<p><a href="https://example.org" {REL}>x</a>{{: onclick=steal() }}</p>'
    )


def test_an_image_is_a_link_to_it_never_loaded_by_the_page():
    assert markdown_to_html("![a cat](https://elsewhere.example/cat.png) ![](/media/x.png)") == (
        f'<p><a href="https://elsewhere.example/cat.png" {REL}>a cat</a> '
        f'<a href="/media/x.png" {REL}>/media/x.png</a></p>'
    )


def test_the_template_filter_renders_and_marks_the_result_safe():
    rendered = Template("{% load rich_text %}{{ text|markdown }}").render(
        Context({"text": "**bold** <em onmouseover=x>"})
    )

    assert rendered == "<p><strong>bold</strong> &lt;em onmouseover=x&gt;</p>"


def test_the_template_filter_renders_nothing_for_no_text():
    assert Template("{% load rich_text %}[{{ text|markdown }}]").render(Context({"text": None})) == "[]"
