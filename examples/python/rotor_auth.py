"""Verify Rotor access tokens with PyJWT and Rotor's JWKS: no shared secret.

The FastAPI back end uses this module. It needs only PyJWT (with
cryptography) and the standard library.
"""

import json
import os
import threading
import time
import urllib.request

import jwt

ISSUER = os.environ.get("ROTOR_ISSUER", "http://127.0.0.1:8080")
AUDIENCE = os.environ.get("ROTOR_AUDIENCE", "https://schedules.example")

# Rotor publishes its public keys here. This module keeps the set for
# LIFESPAN seconds, then fetches it again; a token that names a kid the set
# does not hold makes it fetch at once, which is how a key rotation reaches
# the app without a restart (Rotor publishes each key well before it signs
# with it). Fetches happen at most once per REFETCH_FLOOR seconds, one at a
# time: without a floor, anyone could send tokens with made-up kids and turn
# every request into a request to Rotor. Inside the floor an unknown kid
# fails at once. A failed fetch, or a set without signing keys, never
# replaces the last good set: while Rotor is unreachable, tokens signed with
# known keys still verify. PyJWKClient does the fetching and parsing.
JWKS_URL = ISSUER.rstrip("/") + "/.well-known/jwks.json"
LIFESPAN = float(os.environ.get("ROTOR_JWKS_LIFESPAN", "300"))
REFETCH_FLOOR = float(os.environ.get("ROTOR_JWKS_REFETCH_FLOOR", "30"))
FETCH_TIMEOUT = 5


class _Client(jwt.PyJWKClient):
    """PyJWKClient with a timeout on the fetch (a hung Rotor must not hang
    every request waiting for the key set)."""

    def fetch_data(self):
        try:
            with urllib.request.urlopen(self.uri, timeout=FETCH_TIMEOUT) as resp:
                return json.load(resp)
        except (OSError, ValueError) as e:
            raise jwt.PyJWKClientError("fetching the JWKS failed: %s" % type(e).__name__) from None


_jwks = _Client(JWKS_URL, cache_jwk_set=False)
_lock = threading.Lock()
# keys: the last good set; fetched: when it was fetched; tried: the last
# fetch, good or not (time.monotonic()).
_cache = {"keys": None, "fetched": float("-inf"), "tried": float("-inf")}


def _fetch_locked(now):
    _cache["tried"] = now
    try:
        keys = _jwks.get_signing_keys(refresh=True)
    except (jwt.PyJWTError, AttributeError, TypeError):  # unreachable, empty or broken
        if _cache["keys"] is None:
            raise jwt.PyJWKClientError("no JWKS yet") from None
        return  # keep serving the last good set
    _cache["keys"], _cache["fetched"] = keys, now


def _signing_key(kid):
    """The JWK for kid, from the set; fetched when stale or missing kid, at
    most once per floor."""
    with _lock:
        now = time.monotonic()
        may_fetch = now - _cache["tried"] >= REFETCH_FLOOR
        if may_fetch and now - _cache["fetched"] >= LIFESPAN:
            _fetch_locked(now)
            may_fetch = False
        key = _jwks.match_kid(_cache["keys"] or [], kid)
        if key is None and may_fetch:
            _fetch_locked(now)
            key = _jwks.match_kid(_cache["keys"] or [], kid)
        elif key is None:
            raise InvalidToken("unknown kid (JWKS fetched less than %gs ago)" % REFETCH_FLOOR)
    if key is None:
        raise InvalidToken("unknown kid")
    return key


# Only asymmetric algorithms: a token "signed" with HS256 and some shared
# secret, or with alg "none", is refused before any key is looked at.
ALGORITHMS = ["RS256", "EdDSA"]

# Clock skew tolerated on exp and iat, in seconds.
LEEWAY = int(os.environ.get("ROTOR_LEEWAY", "30"))


class InvalidToken(Exception):
    """The token is not a valid Rotor access token for this audience."""


def verify(token):
    """Return the verified claims of a Rotor access token, or raise InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
        # RFC 9068 §4: access tokens are typed, so an ID token or any other
        # JWT from the same issuer cannot be replayed as one. The header is
        # the sender's JSON: typ, alg and kid may be any type, not only
        # strings, and each must be refused as a bad token, not crash.
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("not an access token")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("no kid")
        key = _signing_key(kid)
        return jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except InvalidToken:
        raise
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as e:
        raise InvalidToken(type(e).__name__) from None


def has_scope(claims, scope):
    granted = claims.get("scope")
    return isinstance(granted, str) and scope in granted.split()
