"""The audit trail page for owners and admins: search, keyset pages, export links and on-demand verification."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit import permissions, signing
from audit.models import AuditEvent
from audit.selectors.chains import audit_category_list
from audit.selectors.events import (
    EventPosition,
    audit_event_page,
    audit_event_search,
    audit_events_newer,
    audit_events_older,
)
from audit.selectors.query import AuditQuery, query_from_params
from audit.selectors.targets import audit_target_names
from audit.services.verification import VerifyReport, audit_verify_recorded
from core.audit.record import Outcome
from core.audit.targets import target_noun
from core.errors import InvalidInput
from tenancy.models import Membership
from tenancy.pages.base import role_page

PAGE_SIZE = 50
# The filter fields are the export API's own parameters, so the page's query string is also the export's.
FILTER_PARAMETERS = ("q", "actor", "action", "category", "outcome", "target", "token", "since", "until")
CURSOR_PARAMETERS = ("before", "after")
QUALIFIER_HELP = (
    ("actor", "alice"),
    ("action", "export.*"),
    ("category", "data_access"),
    ("outcome", "denied"),
    ("target", "<id>"),
    ("token", "<prefix>"),
    ("created", ">2026-11-01"),
)
_DETAIL_SUMMARY_KEYS = 3


class AuditSearchForm(forms.Form):
    """Renders the search box and the filter fields; the values are validated by `audit.selectors.query`, not here."""

    # Plain text fields throughout, selects and dates included: Django's own validation would repeat, in other
    # words, the errors the query parser reports.
    q = forms.CharField(required=False)
    actor = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "alice@lab.example"}))
    action = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "project.*"}))
    category = forms.CharField(required=False, widget=forms.Select())
    outcome = forms.CharField(required=False, widget=forms.Select(choices=[("", "Any outcome"), *Outcome.choices]))
    target = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "id or projects.task"}))
    token = forms.CharField(required=False, label="API token", widget=forms.TextInput(attrs={"placeholder": "prefix"}))
    since = forms.CharField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.CharField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: QueryDict, *, categories: list[str]) -> None:
        super().__init__(data)
        chosen = str(data.get("category") or "")
        names = sorted({*categories, chosen} - {""})
        self.fields["category"].widget.choices = [("", "Any category"), *((name, name) for name in names)]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("autocomplete", "off")
            if name != "q":
                field.widget.attrs["class"] = "filter-input"

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FILTER_PARAMETERS if name != "q"]


@dataclass(frozen=True)
class DetailSection:
    """The changes or the metadata of an event: key → value as compact JSON text (escaped when rendered)."""

    name: str
    items: list[tuple[str, str]]


@dataclass
class EventRow:
    """One event as the table shows it: the model's fields, what its target is called, and a compact view of its
    changes and metadata."""

    event: AuditEvent
    detail_summary: str
    details: list[DetailSection]
    target_noun: str  # "task", or the stored type when it names no declared kind
    target_name: str  # the target's current name; "" when it is gone or has none

    def __getattr__(self, name: str) -> Any:
        return getattr(self.event, name)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _detail_value(section: str, value: Any) -> str:
    # Services record a change as [before, after]; show it as such, anything else as compact JSON.
    if section == "changes" and isinstance(value, list) and len(value) == 2:
        return f"{_compact(value[0])} → {_compact(value[1])}"
    return _compact(value)


def _event_row(event: AuditEvent, target_names: dict[tuple[str, str], str]) -> EventRow:
    sections: list[DetailSection] = []
    parts: list[str] = []
    for section, data in (("changes", event.changes), ("metadata", event.metadata)):
        if not data:
            continue
        if not isinstance(data, dict):
            data = {"value": data}
        # Sorted: PostgreSQL's jsonb keeps keys in its own order (shortest first), which reads as random.
        pairs = sorted((str(key), value) for key, value in data.items())
        sections.append(DetailSection(section, [(key, _detail_value(section, value)) for key, value in pairs]))
        keys = [key for key, _ in pairs]
        more = f" +{len(keys) - _DETAIL_SUMMARY_KEYS}" if len(keys) > _DETAIL_SUMMARY_KEYS else ""
        parts.append(f"{section}: {', '.join(keys[:_DETAIL_SUMMARY_KEYS])}{more}")
    return EventRow(
        event,
        " · ".join(parts),
        sections,
        target_noun=target_noun(event.target_type),
        target_name=target_names.get((event.target_type, event.target_id), ""),
    )


def _filters(params: QueryDict) -> dict[str, str]:
    return {name: str(params[name]).strip() for name in FILTER_PARAMETERS if str(params.get(name, "")).strip()}


def _url(path: str, params: dict[str, Any]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _export_url(filters: dict[str, str], export_format: str) -> str:
    # The export API reads the same parameters and authenticates the session, so the link is the filter itself.
    return _url(reverse("api:audit-event-export"), {**filters, "format": export_format})


def _cursor(params: QueryDict, name: str) -> EventPosition | None:
    return EventPosition.parse(str(params.get(name, "")))


@dataclass
class EventPage:
    events: list[AuditEvent]
    newer_than: EventPosition | None  # pass as `after` for the newer page, None on the newest one
    older_than: EventPosition | None  # pass as `before` for the older page, None on the oldest one


def _event_page(query: AuditQuery, *, before: EventPosition | None, after: EventPosition | None) -> EventPage:
    """A keyset page newest first; `after` walks back towards newer events, which the selector does not offer."""
    if after is not None:
        newer = list(audit_events_newer(audit_event_search(query), after)[: PAGE_SIZE + 1])
        more_newer = len(newer) > PAGE_SIZE
        events = newer[:PAGE_SIZE][::-1]
        # With nothing newer, the older page starts at `after` itself.
        older = EventPosition.of(events[-1]) if events else after.next_id()
        more_older = audit_events_older(audit_event_search(query), older).exists()
        return EventPage(
            events,
            newer_than=EventPosition.of(events[0]) if more_newer and events else None,
            older_than=older if more_older else None,
        )
    page = audit_event_page(query, before=before, limit=PAGE_SIZE)
    more_newer = False
    newest = None
    if before is not None:
        # With nothing older, the newer page ends at `before` itself.
        newest = EventPosition.of(page.events[0]) if page.events else before.previous_id()
        more_newer = audit_events_newer(audit_event_search(query), newest).exists()
    return EventPage(page.events, newer_than=newest if more_newer else None, older_than=page.next_before)


def _render_trail(
    request: HttpRequest, membership: Membership, *, verification: VerifyReport | None = None
) -> HttpResponse:
    params = request.GET
    filters = _filters(params)
    form = AuditSearchForm(params, categories=audit_category_list())
    search_error = ""
    query = AuditQuery()
    try:
        query = query_from_params(params)
    except InvalidInput as exc:
        for error in exc.errors:
            name = error.field.split(".", 1)[0]
            if name in form.fields and name != "q" and error.code != "conflict":
                form.add_error(name, error.message)
            elif not search_error:
                search_error = exc.message
        if not search_error and not form.errors:
            search_error = exc.message

    failed = bool(search_error or form.errors)
    if failed:
        page = EventPage([], None, None)
    else:
        page = _event_page(query, before=_cursor(params, "before"), after=_cursor(params, "after"))
    audit_url = reverse("audit")
    names = audit_target_names(events=page.events)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "form": form,
        "search_error": search_error,
        "qualifiers": QUALIFIER_HELP,
        "filtered": bool(filters),
        "events": [_event_row(event, names) for event in page.events],
        "newer_url": _url(audit_url, {**filters, "after": page.newer_than.token()}) if page.newer_than else "",
        "older_url": _url(audit_url, {**filters, "before": page.older_than.token()}) if page.older_than else "",
        "current_query": urlencode(
            {**filters, **{name: params[name] for name in CURSOR_PARAMETERS if _cursor(params, name)}}
        ),
        "export_jsonl_url": _export_url(filters, "jsonl"),
        "export_csv_url": _export_url(filters, "csv"),
        "key_id": signing.current_key_id(),
        "public_key_pem": signing.public_key_pem(),
        "public_key_url": reverse("api:audit-public-key"),
        "verification": verification,
    }
    return render(request, "audit/trail.html", context, status=400 if failed else 200)


@require_GET
@role_page(permissions.TRAIL_ROLE)
def audit_trail(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The trail of the session's organization, newest first, filtered by the search box and the fields."""
    return _render_trail(request, membership)


@require_POST
@role_page(permissions.TRAIL_ROLE)
def audit_trail_verify(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Recompute the chains and checkpoints now, record that it was done and what it found, and show the result."""
    return _render_trail(request, membership, verification=audit_verify_recorded(actor=membership))
