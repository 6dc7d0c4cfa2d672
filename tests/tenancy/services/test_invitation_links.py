"""Reading an invitation's link back from the mail the file-based backend wrote (the embedded default): only a
pending invitation of the organization in context, matched by the digest of its secret, and nothing at all under
any other mail backend."""

import os
import time
from pathlib import Path
from typing import Any

import pytest

from core.context import organization_context
from tenancy.models import Invitation, Organization, Role
from tenancy.services.invitation_links import invitation_links_from_mail
from tenancy.services.invitations import IssuedInvitation, invitation_create
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


@pytest.fixture
def mail_folder(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    settings.EMAIL_BACKEND = FILE_BACKEND
    settings.EMAIL_FILE_PATH = str(folder)
    return folder


def _invite(organization: Organization, email: str, capture: Any) -> IssuedInvitation:
    """An invitation whose mail the worker has sent (Celery runs eagerly in the suite, once the commit is done)."""
    with organization_context(organization.pk), capture(execute=True):
        return invitation_create(actor=None, organization=organization, email=email, role=Role.ANNOTATOR)


def _pending(organization: Organization) -> list[Invitation]:
    with organization_context(organization.pk):
        return list(Invitation.objects.order_by("id"))


def test_each_pending_invitation_gets_the_link_its_mail_carries(mail_folder, django_capture_on_commit_callbacks):
    organization = OrganizationFactory()
    first = _invite(organization, "ana@lab.example", django_capture_on_commit_callbacks)
    second = _invite(organization, "ben@lab.example", django_capture_on_commit_callbacks)
    assert len(list(mail_folder.iterdir())) == 2  # one file per message sent by the worker

    with organization_context(organization.pk):
        links = invitation_links_from_mail(invitations=_pending(organization))

    assert links == {
        first.invitation.pk: first.accept_url,
        second.invitation.pk: second.accept_url,
    }


def test_another_organizations_mail_in_the_same_folder_yields_nothing(mail_folder, django_capture_on_commit_callbacks):
    ours, theirs = OrganizationFactory(), OrganizationFactory()
    _invite(theirs, "other@elsewhere.example", django_capture_on_commit_callbacks)
    mine = _invite(ours, "ana@lab.example", django_capture_on_commit_callbacks)

    with organization_context(ours.pk):
        links = invitation_links_from_mail(invitations=_pending(ours))

    assert links == {mine.invitation.pk: mine.accept_url}


def test_a_revoked_invitation_and_one_whose_mail_is_not_written_get_no_link(
    mail_folder, django_capture_on_commit_callbacks
):
    organization = OrganizationFactory()
    revoked = _invite(organization, "gone@lab.example", django_capture_on_commit_callbacks)
    with organization_context(organization.pk):
        Invitation.objects.filter(pk=revoked.invitation.pk).update(revoked_at=revoked.invitation.created_at)
        # Created, but its mail not sent yet: the worker has not run.
        invitation_create(actor=None, organization=organization, email="soon@lab.example", role=Role.ANNOTATOR)

        assert invitation_links_from_mail(invitations=_pending(organization)) == {}


def test_junk_and_mail_older_than_the_invitations_are_skipped(mail_folder, django_capture_on_commit_callbacks):
    organization = OrganizationFactory()
    issued = _invite(organization, "ana@lab.example", django_capture_on_commit_callbacks)
    (sent,) = mail_folder.iterdir()
    # A copy of the mail dated a day before the invitation existed is not read, nor is a file that is no mail.
    old = mail_folder / "old.log"
    old.write_bytes(sent.read_bytes())
    day_ago = time.time() - 86400
    os.utime(old, (day_ago, day_ago))
    sent.unlink()
    (mail_folder / "junk.log").write_bytes(b"\x00\xff not a mail /invitations/accept/short\n" + b"-" * 79 + b"\n")

    with organization_context(organization.pk):
        assert invitation_links_from_mail(invitations=_pending(organization)) == {}
        old.touch()  # now recent: read, and matched
        assert invitation_links_from_mail(invitations=_pending(organization)) == {
            issued.invitation.pk: issued.accept_url
        }


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.smtp.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.console.EmailBackend",  # mail on the console: nothing on disk to read back
        "tests.elsewhere.FileBasedLookalike",
    ],
)
def test_with_any_other_backend_no_folder_is_read(mail_folder, settings, django_capture_on_commit_callbacks, backend):
    organization = OrganizationFactory()
    _invite(organization, "ana@lab.example", django_capture_on_commit_callbacks)  # written while file-based
    settings.EMAIL_BACKEND = backend

    with organization_context(organization.pk):
        assert invitation_links_from_mail(invitations=_pending(organization)) == {}
