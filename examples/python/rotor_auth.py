"""Verify Rotor access tokens with PyJWT and Rotor's JWKS: no shared secret.

The FastAPI back end uses this module. It needs only PyJWT (with
cryptography) and the standard library.
"""

import os
import threading
import time

import jwt

ISSUER = os.environ.get("ROTOR_ISSUER", "http://127.0.0.1:8080")
AUDIENCE = os.environ.get("ROTOR_AUDIENCE", "https://schedules.example")

# Rotor publishes its public keys here. PyJWKClient caches them for
# `lifespan` seconds; a token that names a kid the cache does not hold makes
# this module fetch the set again, which is how a key rotation reaches the
# app without a restart (Rotor publishes each key well before it signs with
# it). Such refetches happen at most once per REFETCH_FLOOR seconds: without
# a floor, anyone could send tokens with made-up kids and turn every request
# into a request to Rotor. Inside the floor an unknown kid fails at once.
JWKS_URL = ISSUER.rstrip("/") + "/.well-known/jwks.json"
REFETCH_FLOOR = float(os.environ.get("ROTOR_JWKS_REFETCH_FLOOR", "30"))
_jwks = jwt.PyJWKClient(JWKS_URL, cache_jwk_set=True, lifespan=300)
_refetch_lock = threading.Lock()
_last_refetch = [float("-inf")]


def _signing_key(kid):
    """The JWK for kid: from the cached set, else from one refetch per floor."""
    key = _jwks.match_kid(_jwks.get_signing_keys(), kid)
    if key is not None:
        return key
    with _refetch_lock:
        now = time.monotonic()
        if now - _last_refetch[0] < REFETCH_FLOOR:
            raise InvalidToken("unknown kid (JWKS refetched less than %gs ago)" % REFETCH_FLOOR)
        _last_refetch[0] = now
        key = _jwks.match_kid(_jwks.get_signing_keys(refresh=True), kid)
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
