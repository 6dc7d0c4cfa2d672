"""Invitation links an admin may copy from the members page: in the embedded default only.

An invitation's secret is stored as a digest, so the server cannot give its link back from the database. Where
mail never leaves the machine (Django's file-based or console backend, as the embedded default runs), no mail
carries the link to the invitee either, and an admin who cannot hand it over has invited nobody. So, under those
two backends only (`config.mail_stays_local()`):

- the link is shown once, on the response that created the invitation (the members page renders it, with
  `Cache-Control: no-store`, instead of redirecting);
- afterwards it is read back from the mail the file-based backend wrote under EMAIL_FILE_PATH, and a secret found
  there counts only if its digest is the key hash of a pending invitation of the organization in context: a mail
  folder holding other organizations' mail (one machine, one folder) yields nothing for them.

Production is not weakened: with SMTP or any other backend `mail_stays_local()` is false, no link is rendered and
no folder is read, and what was mailed is the only copy of the secret, as before. The disk read here is of files
anyone who can read the server's disk already reads. Nothing here is reachable from the API, and the link is never
logged: a log line outlives the invitation and reaches people who should not hold the secret.
"""

import email
import email.policy
import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from core import credentials
from tenancy import config
from tenancy.models import Invitation
from tenancy.services.invitations import invitation_accept_url

# The file-based backend ends every message with a line of 79 dashes (django.core.mail.backends.filebased).
_SEPARATOR = b"\n" + b"-" * 79 + b"\n"
# An invitation secret is `secrets.token_urlsafe(32)`: 43 characters of the URL-safe alphabet.
# The secret follows the link's `#` (tenancy.services.invitations.invitation_accept_url).
_ACCEPT_LINK = re.compile(r"/invitations/accept#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
# Bounds on the read: the newest files only, each read up to a size an invitation mail never reaches. A mail
# written before the oldest pending invitation was created cannot hold its secret, so older files are skipped.
MAIL_FILES_READ = 500
MAIL_FILE_MAX_BYTES = 1024 * 1024
_CLOCK_SLACK = timedelta(minutes=1)


def invitation_links_from_mail(*, invitations: Sequence[Invitation]) -> dict[int, str]:
    """The accept link of each pending invitation whose mail the file-based backend wrote, by invitation id."""
    folder = config.mail_file_path()
    wanted = {i.key_hash: i.pk for i in invitations if i.status == "pending"}
    if folder is None or not wanted:
        return {}
    since = min(i.created_at for i in invitations if i.pk in wanted.values()) - _CLOCK_SLACK
    found: dict[int, str] = {}
    for path in _mail_files(folder, since=since):
        for raw in _accept_secrets(path):
            invitation_id = wanted.get(credentials.digest(raw))
            if invitation_id is not None:
                found[invitation_id] = invitation_accept_url(raw)
        if len(found) == len(wanted):
            break
    return found


def _mail_files(folder: Path, *, since: datetime) -> list[Path]:
    """The folder's files written since `since`, newest first."""
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []  # not written yet (no mail sent), or not readable by this process: no link to offer
    recent = []
    for entry in entries:
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if modified >= since.timestamp():
            recent.append((modified, Path(entry.path)))
    recent.sort(reverse=True)
    return [path for _, path in recent[:MAIL_FILES_READ]]


def _accept_secrets(path: Path) -> Iterator[str]:
    """The invitation secrets in the plain-text bodies of the messages of one mail file."""
    try:
        with path.open("rb") as stream:
            content = stream.read(MAIL_FILE_MAX_BYTES)
    except OSError:
        return
    for chunk in content.split(_SEPARATOR):
        if not chunk.strip():
            continue
        message = email.message_from_bytes(chunk, policy=email.policy.default)
        if not isinstance(message, EmailMessage):
            continue
        body = message.get_body(preferencelist=("plain",))
        try:
            text = body.get_content() if body is not None else ""
        except (LookupError, ValueError):
            continue  # an unknown charset or a broken encoding: not a mail this server wrote
        yield from _ACCEPT_LINK.findall(str(text))
