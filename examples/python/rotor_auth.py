"""Verify Rotor access tokens with PyJWT and Rotor's JWKS: no shared secret.

Both example apps use this module. It needs only PyJWT (with cryptography)
and the standard library.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import jwt

ISSUER = os.environ.get("ROTOR_ISSUER", "http://127.0.0.1:8080")
AUDIENCE = os.environ.get("ROTOR_AUDIENCE", "https://schedules.example")

# Rotor publishes its public keys here. PyJWKClient caches them and fetches
# again when a token names a kid it has not seen, which is how a key rotation
# reaches this app without a restart (Rotor publishes each key well before it
# signs with it).
JWKS_URL = ISSUER.rstrip("/") + "/.well-known/jwks.json"
_jwks = jwt.PyJWKClient(JWKS_URL, cache_keys=True, lifespan=300)

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
        # JWT from the same issuer cannot be replayed as one.
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("not an access token")
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("algorithm not allowed")
        key = _jwks.get_signing_key_from_jwt(token)
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
    except (jwt.PyJWTError, ValueError, KeyError) as e:
        raise InvalidToken(type(e).__name__) from None


def has_scope(claims, scope):
    return scope in claims.get("scope", "").split()


def token_request(form):
    """POST a form to Rotor's token endpoint; return (status, JSON body)."""
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(ISSUER.rstrip("/") + "/oauth2/token", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
