"""schemathesis hooks for tests/test_api_fuzz.py, loaded by the schemathesis process (SCHEMATHESIS_HOOKS=<this file>).

Random strings almost never name a real object and an anonymous request stops at 401, so on their own the
generated cases would test little beyond the front door. Each case is therefore sent as one of the seeded
identities (every role of two organizations, platform staff, nobody) and, most of the time, names seeded objects:
the caller's own organization's or the other one's, so both the real answers and the cross-tenant 404s are checked.

The identity is generated data like any other: the fuzzer's copy of the schema gives every operation a required
IDENTITY_HEADER whose enum is the identities' indexes (test_api_fuzz.py adds it), so the coverage phase sends every
operation as every identity, and this hook swaps the header for that identity's Authorization (see `_identity`).
Every choice here is a function of the generated case, never of a random source or a counter, so a failing case is
sent again exactly as it was when schemathesis replays and shrinks it.

The world (FUZZ_WORLD, a JSON file the test writes) holds:
- `identities`: per identity, its Authorization header value (`null`: no credentials) and its own leases;
- `ids`: path parameter name -> {"all": [...], "spare": [...]}; `spare` objects are the ones an operation that
  destroys or demotes may have (a member with no token of the fuzz, a token nobody sends, a project nothing else
  uses), so the identities and the objects the other operations need survive the whole run;
- `leases`: assignment id -> its lease token, sent with the assignment it belongs to most of the time;
- `fields`: request body field name -> values to put there (lease tokens, member and task ids, skill names).
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import schemathesis

IDENTITY_HEADER = "X-Fuzz-Identity"
WORLD: dict[str, Any] = json.loads(Path(os.environ["FUZZ_WORLD"]).read_text())
# In each pool, one slot leaves the generated value as it was: malformed and unknown ids stay tested too.
GENERATED = object()
# Operations that take a member, token or project away from the run, or change what it may do.
_SPARING_METHODS = frozenset({"DELETE", "PATCH"})
_SPARING_SUFFIXES = ("/pause",)


def _digest(*salt: Any) -> int:
    return int.from_bytes(hashlib.blake2b(repr(salt).encode(), digest_size=8).digest(), "big")


def _choose(options: list[Any], *salt: Any) -> Any:
    return options[_digest(*salt) % len(options)]


def _identity(headers: dict[str, Any], *salt: Any) -> dict[str, Any]:
    """The identity for this case: the generated index, shifted by a digest of the rest of the case. The coverage
    phase sends each index once and then keeps to the first, so the index alone would send nearly everything as
    one identity; shifted, an operation with no other input still meets every identity (the shift is fixed and
    the indexes are all sent), and one with inputs meets them all in turn. A malformed index counts as 0."""
    try:
        index = int(str(headers.get(IDENTITY_HEADER)))
    except ValueError:
        index = 0
    identities: list[dict[str, Any]] = WORLD["identities"]
    return identities[(index + _digest("identity", *salt)) % len(identities)]


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    operation = case.operation
    headers = dict(case.headers or {})
    inputs = (operation.label, repr(case.path_parameters), repr(case.query), repr(case.body))
    identity = _identity(headers, *inputs)
    salt = (*inputs, repr(identity))
    headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", IDENTITY_HEADER.lower())}
    if identity["authorization"] is not None:
        headers["Authorization"] = identity["authorization"]
    case.headers = headers

    if case.path_parameters:
        sparing = operation.method.upper() in _SPARING_METHODS or operation.path.endswith(_SPARING_SUFFIXES)
        for name, value in list(case.path_parameters.items()):
            pools = WORLD["ids"].get(name)
            if not pools:
                continue
            options = [*pools["all"], GENERATED]
            if name == "assignment_id":
                # Most lease routes act only on the caller's own lease: offer those twice as often as any other.
                options = [*identity["assignments"], *identity["assignments"], *options]
            if sparing and pools["spare"]:
                # A seeded object that is not spare never reaches these operations, whether the value was
                # generated or (in the stateful phase) taken from an earlier response, such as a member list.
                seeded = value in pools["all"] and value not in pools["spare"]
                options = pools["spare"] if seeded else [*pools["spare"], GENERATED]
            chosen = _choose(options, "path", name, *salt)
            if chosen is not GENERATED:
                case.path_parameters[name] = chosen

    if isinstance(case.body, dict):
        for name, values in WORLD["fields"].items():
            if name in case.body:
                chosen = _choose([*values, GENERATED], "body", name, *salt)
                if chosen is not GENERATED:
                    case.body[name] = chosen
        lease = WORLD["leases"].get((case.path_parameters or {}).get("assignment_id"))
        if "lease_token" in case.body and lease and _choose([True, True, False], "lease", *salt):
            case.body["lease_token"] = lease
    return case
