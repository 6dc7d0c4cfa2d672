"""Files the isolation suites store (uploads, media, exports) go to the platform's object store on local disk, in
each test's own folder, never in the checkout's data directory."""

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _object_store_of_its_own(settings: Any, tmp_path: Any) -> None:
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
