"""Plain views of the projects app: the download end of the local object store's signed URLs."""

import mimetypes
import re
from collections.abc import Iterator
from typing import IO

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from projects.object_store import CHUNK, LinkExpired, object_store, signed_download

# One range only (`bytes=N-`, `bytes=N-M` or `bytes=-N`): what resuming a download needs. Anything else (several
# ranges, other units) is answered with the whole file, as HTTP allows.
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(first, last) byte of a satisfiable single range; None to send the whole file; False if unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # the last N bytes
        length = int(last_text)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # syntactically invalid: ignored, per RFC 9110
    if first >= size:
        return False
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _limited(stream: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = stream.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        stream.close()


def _size(stream: IO[bytes]) -> int | None:
    try:
        if not stream.seekable():
            return None
        size = stream.seek(0, 2)
        stream.seek(0)
        return size
    except (AttributeError, OSError):
        return None


@require_GET
def object_download(request: HttpRequest, token: str) -> HttpResponse | StreamingHttpResponse:
    """Serve one object named by a signed, short-lived token. The token is the permission: it was issued to an
    authorised member for this one object, and it expires within minutes.

    A `Range: bytes=…` request gets 206 with that part (or 416), so a client resumes an interrupted download
    instead of starting over; the object behind a key never changes, so no validator is needed."""
    try:
        key, filename, content_type = signed_download(token)
    except (signing.BadSignature, LinkExpired, KeyError, ValueError) as exc:
        raise Http404() from exc
    store = object_store()
    if not store.exists(key):
        raise Http404()
    name = filename or key.rsplit("/", 1)[-1]
    kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    stream = store.open(key)
    size = _size(stream)
    wanted = _byte_range(request.headers.get("Range", ""), size) if size is not None else None
    response: HttpResponse | StreamingHttpResponse
    if wanted is False:
        stream.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif isinstance(wanted, tuple):
        first, last = wanted
        stream.seek(first)
        response = StreamingHttpResponse(_limited(stream, last - first + 1), status=206, content_type=kind)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
        # Never rendered as a page: an uploaded HTML file cannot run in our origin.
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name) or "attachment"
    else:
        response = FileResponse(stream, as_attachment=True, filename=name, content_type=kind)
    if size is not None:
        response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
