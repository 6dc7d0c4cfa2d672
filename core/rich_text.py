"""Text that people write for others to read (a project's guidelines) turned from Markdown into HTML a page can
show: what Markdown makes, minus raw HTML, cut down to an allow-list of tags and attributes.

Two layers, each enough alone for what it guards. The renderer never passes HTML through: raw HTML blocks and
inline tags in the source stay text (escaped), so `<script>` reads as `<script>`. The sanitiser (nh3, a binding of
the Rust crate ammonia) then keeps only the tags below, only `http`, `https` and `mailto` links, and gives every
link `rel="noopener noreferrer nofollow"`. Images are not kept: the page's CSP allows images from its own origin
only, so another site's picture would show as broken, and one of ours would be a request made in the reader's name
that the writer chose. An image is shown as a link to it instead.
"""

import xml.etree.ElementTree as ET
from typing import Final

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS: Final = frozenset(
    {
        "a",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "strong",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# No class, id or style anywhere: the page's own stylesheet decides how guidelines look, and an id could shadow one
# of the page's own elements. `rel` is not listed because the sanitiser sets it on every link.
ALLOWED_ATTRIBUTES: Final = {"a": {"href", "title"}, "ol": {"start"}, "th": {"colspan"}, "td": {"colspan"}}
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
LINK_REL: Final = "noopener noreferrer nofollow"
# Guidelines sit under the page's own second-level heading, so their `#` becomes a third-level heading.
HEADING_LEVEL_FIRST: Final = 3


class _ForThePage(Treeprocessor):
    """Moves headings down so that the document's `#` is `first` (the page outline stays in order), and turns each
    image into a link to it, named by its alt text."""

    def __init__(self, md: markdown.Markdown, first: int) -> None:
        super().__init__(md)
        self.shift = first - 1

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            if len(element.tag) == 2 and element.tag[0] == "h" and element.tag[1] in "123456":
                element.tag = f"h{min(int(element.tag[1]) + self.shift, 6)}"
            elif element.tag == "img":
                source, alt = element.get("src", ""), element.get("alt", "")
                element.attrib.clear()
                element.tag, element.text = "a", alt or source
                element.set("href", source)


class _PlainMarkdown(Extension):
    """Markdown without its HTML pass-through, and without images (see the module's docstring)."""

    def __init__(self, first_heading: int) -> None:
        super().__init__()
        self.first_heading = first_heading

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ForThePage(md, self.first_heading), "for_the_page", 0)


def markdown_to_html(text: str, *, first_heading: int = HEADING_LEVEL_FIRST) -> str:
    """Safe HTML for `text` written in Markdown: no raw HTML, only allow-listed tags, links that reveal nothing."""
    renderer = markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists", _PlainMarkdown(first_heading)])
    rendered = renderer.convert(text)
    return nh3.clean(
        rendered,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
