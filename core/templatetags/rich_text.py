"""Template filters over core.rich_text: `{% load rich_text %}{{ project.guidelines|markdown }}`."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.rich_text import markdown_to_html

register = template.Library()


@register.filter(is_safe=False)
def markdown(text: str | None) -> SafeString:
    """The text rendered from Markdown and sanitised; safe to insert because the sanitiser ran last."""
    return mark_safe(markdown_to_html(str(text or "")))  # noqa: S308 - nh3 has cleaned it just above
