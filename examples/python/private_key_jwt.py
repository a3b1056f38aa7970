"""A client that authenticates to Rotor with its own key (private_key_jwt,
RFC 7523) through Authlib: no client secret exists anywhere.

    ROTOR_TOKEN_ENDPOINT=https://idp.example/oauth2/token \
    ROTOR_CLIENT_ID=worker ROTOR_PRIVATE_KEY_FILE=worker.pem \
    python3 private_key_jwt.py

Rotor accepts an assertion that expires within five minutes (and remembers
its jti until then, so it is single use); Authlib's default is an hour, so
the assertion lifetime is set here. Prints the token response as JSON.
"""

import json
import os
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's PrivateKeyJWT with a short assertion lifetime."""

    def __init__(self, token_endpoint, alg, lifetime):
        super().__init__(token_endpoint, alg=alg)
        self.lifetime = lifetime

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret, client_id=auth.client_id,
            token_endpoint=token_endpoint, alg=self.alg, expires_in=self.lifetime)


def main():
    endpoint = os.environ["ROTOR_TOKEN_ENDPOINT"]
    with open(os.environ["ROTOR_PRIVATE_KEY_FILE"]) as f:
        private_key = f.read()
    alg = os.environ.get("ROTOR_ASSERTION_ALG", "RS256")
    lifetime = int(os.environ.get("ROTOR_ASSERTION_LIFETIME", "60"))
    if lifetime > 0:
        auth = ShortLivedPrivateKeyJWT(endpoint, alg, lifetime)
    else:
        auth = PrivateKeyJWT(endpoint, alg=alg)  # Authlib's defaults
    session = OAuth2Session(
        os.environ["ROTOR_CLIENT_ID"], private_key,
        token_endpoint_auth_method=auth, scope=os.environ.get("ROTOR_SCOPE"))
    try:
        token = session.fetch_token(endpoint, grant_type="client_credentials")
    except Exception as e:  # OAuthError: print what Rotor answered
        print(json.dumps({"error": getattr(e, "error", str(e))}))
        return 1
    print(json.dumps(dict(token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
