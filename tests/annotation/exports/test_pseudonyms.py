"""Pseudonymous annotator ids: stable per organization, unlinkable across organizations, never an email."""

import hashlib
import hmac
import json
import uuid

from annotation.exports.pseudonyms import annotator_pseudonym
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    build_world,
    run_export,
)

object_root = exports_support.object_root

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")
MEMBER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def test_the_pseudonym_is_an_hmac_of_the_membership_keyed_by_the_secret_and_the_organization(settings):
    # The key is SHA-256(salt naming the organization + SECRET_KEY); the message the membership's public id.
    salt = f"annotate.exports.annotator:{ORG}"
    key = hashlib.sha256((salt + settings.SECRET_KEY).encode()).digest()
    expected = "annotator-" + hmac.new(key, str(MEMBER).encode(), hashlib.sha256).hexdigest()[:16]
    assert annotator_pseudonym(organization_uuid=ORG, membership_uuid=MEMBER) == expected
    # Pinned for the suite's SECRET_KEY, so a change of algorithm (which renames every annotator) is noticed.
    assert expected == "annotator-1aadaeee5c4b9f96"
    other_org = annotator_pseudonym(organization_uuid=uuid.uuid4(), membership_uuid=MEMBER)
    assert other_org != expected
    settings.SECRET_KEY = "another-secret-key-of-a-different-deployment-0123456789abcdef"
    assert annotator_pseudonym(organization_uuid=ORG, membership_uuid=MEMBER) != expected


def test_the_same_member_has_the_same_pseudonym_in_every_export_and_no_email_appears(tenant, object_root):
    w = build_world()

    _, first = run_export(w, "jsonl")
    _, second = run_export(w, "csv")

    annotators = [
        a["provenance"]["annotator"] for line in first.decode().splitlines() for a in json.loads(line)["annotations"]
    ]
    assert annotators == [w.pa, w.pb, w.pa, w.pr]
    assert len({w.pa, w.pb, w.pr}) == 3
    for body in (first, second):
        text = body.decode()
        assert w.pa in text
        for member in (w.a, w.b, w.r):
            assert member.user.email not in text
            assert str(member.uuid) not in text
            assert member.user.name not in text
