"""Secrets kept for an organization: sealed, bound to that organization and purpose, never shown, never taken back."""

import logging

import pytest

from core import stored_secrets
from core.stored_secrets import (
    PURPOSE_AUDIT_STREAM_TOKEN,
    PURPOSE_STORAGE_SECRET_KEY,
    SecretUnreadable,
    seal,
    sealed_field_paths,
    sealed_fields_hidden,
    unseal,
    unseal_or_empty,
)


def test_a_sealed_secret_opens_for_its_organization_and_purpose_only():
    sealed = seal("bearer-of-org-7", organization_id=7, purpose=PURPOSE_AUDIT_STREAM_TOKEN)

    assert sealed.startswith("sealed.v1.")
    assert "bearer-of-org-7" not in sealed
    assert unseal(sealed, organization_id=7, purpose=PURPOSE_AUDIT_STREAM_TOKEN) == "bearer-of-org-7"
    with pytest.raises(SecretUnreadable):
        unseal(sealed, organization_id=8, purpose=PURPOSE_AUDIT_STREAM_TOKEN)
    with pytest.raises(SecretUnreadable):
        unseal(sealed, organization_id=7, purpose=PURPOSE_STORAGE_SECRET_KEY)


def test_the_same_secret_seals_differently_each_time():
    first = seal("same", organization_id=1, purpose=PURPOSE_AUDIT_STREAM_TOKEN)
    second = seal("same", organization_id=1, purpose=PURPOSE_AUDIT_STREAM_TOKEN)

    assert first != second


@pytest.mark.parametrize(
    "sealed",
    [
        "gAAAAABlegacyfernetvalue",  # not this format
        "sealed.v1.!!!",  # not base64
        "sealed.v1.AAAA",  # too short to hold a nonce and a tag
    ],
)
def test_what_is_not_a_sealed_value_of_this_platform_does_not_open(sealed):
    with pytest.raises(SecretUnreadable):
        unseal(sealed, organization_id=1, purpose=PURPOSE_AUDIT_STREAM_TOKEN)


def test_an_altered_sealed_value_does_not_open():
    sealed = seal("bearer", organization_id=3, purpose=PURPOSE_AUDIT_STREAM_TOKEN)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]

    with pytest.raises(SecretUnreadable):
        unseal(flipped, organization_id=3, purpose=PURPOSE_AUDIT_STREAM_TOKEN)


def test_a_rotated_secret_key_still_opens_through_its_fallback(settings):
    sealed = seal("kept-across-rotation", organization_id=5, purpose=PURPOSE_STORAGE_SECRET_KEY)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "n" * 60
    settings.SECRET_KEY_FALLBACKS = []

    with pytest.raises(SecretUnreadable):
        unseal(sealed, organization_id=5, purpose=PURPOSE_STORAGE_SECRET_KEY)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert unseal(sealed, organization_id=5, purpose=PURPOSE_STORAGE_SECRET_KEY) == "kept-across-rotation"


def test_an_unreadable_secret_is_used_as_none_and_logged_without_its_value(caplog):
    sealed = seal("do-not-log-me", organization_id=9, purpose=PURPOSE_AUDIT_STREAM_TOKEN)

    with caplog.at_level(logging.WARNING, logger=stored_secrets.__name__):
        opened = unseal_or_empty(sealed, organization_id=10, purpose=PURPOSE_AUDIT_STREAM_TOKEN)

    assert (opened, unseal_or_empty("", organization_id=10, purpose=PURPOSE_AUDIT_STREAM_TOKEN)) == ("", "")
    assert [(r.getMessage(), r.organization_id, r.purpose) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("stored_secret.unreadable", 10, PURPOSE_AUDIT_STREAM_TOKEN)
    ]
    assert sealed not in caplog.text


@pytest.mark.parametrize("organization_id", [0, -1, True])
def test_a_secret_is_always_bound_to_a_real_organization_id(organization_id):
    with pytest.raises(ValueError, match="bound to an organization"):
        seal("x", organization_id=organization_id, purpose=PURPOSE_AUDIT_STREAM_TOKEN)


def test_readers_see_whether_a_secret_is_set_never_its_sealed_value():
    document = {
        "audit_stream": {"kind": "http", "url": "https://siem.example.org/", "token_sealed": "sealed.v1.abc"},
        "hooks": [{"key_sealed": ""}, {"name": "x"}],
        "locale": "fr",
    }

    assert sealed_fields_hidden(document) == {
        "audit_stream": {"kind": "http", "url": "https://siem.example.org/", "token_set": True},
        "hooks": [{"key_set": False}, {"name": "x"}],
        "locale": "fr",
    }
    assert sealed_fields_hidden(None) is None


def test_every_sealed_field_a_client_sends_is_named_by_its_path():
    document = {"a_sealed": "x", "b": {"c": [{"d_sealed": 1}, {"e": {"f_sealed": None}}]}, "g": "h_sealed"}

    assert sealed_field_paths(document) == ["a_sealed", "b.c[0].d_sealed", "b.c[1].e.f_sealed"]
