"""Unit tests of rotor_auth against a JWKS served on loopback.

Run: python3 -m unittest discover -s examples/python (make test runs them
through internal/e2e).
"""

import json
import os
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm


class JWKS:
    """A JWKS endpoint that counts its fetches; keys can be added."""

    def __init__(self):
        self.keys = {}  # kid -> private key
        self.fetches = 0
        self.status = 200  # 500: Rotor is failing
        self.empty = False  # serve a set without keys
        self.broken = False  # serve JSON that is not a key set
        self.mu = threading.Lock()
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with jwks.mu:
                    jwks.fetches += 1
                    status = jwks.status
                    doc = {"keys": [] if jwks.empty else [dict(json.loads(OKPAlgorithm.to_jwk(k.public_key())), kid=kid, use="sig", alg="EdDSA") for kid, k in jwks.keys.items()]}
                body = b"[1]" if jwks.broken else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def add(self, kid):
        with self.mu:
            self.keys.setdefault(kid, ed25519.Ed25519PrivateKey.generate())

    def token(self, kid, signing_kid=None, **header):
        now = int(time.time())
        claims = {"iss": self.url, "aud": "https://schedules.example", "sub": "u1", "iat": now, "exp": now + 60, "scope": "schedules:read"}
        hdr = {"typ": "at+jwt", "kid": kid}
        hdr.update(header)
        return jwt.encode(claims, self.keys[signing_kid or kid], algorithm="EdDSA", headers=hdr)


SERVER = JWKS()
os.environ["ROTOR_ISSUER"] = SERVER.url
os.environ["ROTOR_AUDIENCE"] = "https://schedules.example"
import rotor_auth  # noqa: E402  (reads the environment on import)


class RotorAuthTest(unittest.TestCase):
    def setUp(self):
        SERVER.add("k1")
        SERVER.status, SERVER.empty, SERVER.broken = 200, False, False
        rotor_auth._cache["tried"] = float("-inf")

    def stale(self):
        """Time passes: the set is past its lifespan and the floor is over."""
        rotor_auth._cache["fetched"] -= rotor_auth.LIFESPAN
        rotor_auth._cache["tried"] -= rotor_auth.REFETCH_FLOOR

    def test_verifies_a_token(self):
        claims = rotor_auth.verify(SERVER.token("k1"))
        self.assertEqual(claims["sub"], "u1")
        self.assertTrue(rotor_auth.has_scope(claims, "schedules:read"))
        self.assertFalse(rotor_auth.has_scope(claims, "schedules:write"))
        self.assertFalse(rotor_auth.has_scope({"scope": ["schedules:read"]}, "schedules:read"))

    def test_unknown_kids_refetch_once_per_floor(self):
        rotor_auth.verify(SERVER.token("k1"))  # the set is cached
        before = SERVER.fetches
        SERVER.add("forger")
        forged = [SERVER.token("unknown-%d" % i, signing_kid="forger") for i in range(200)]

        def attempt(tok):
            try:
                rotor_auth.verify(tok)
                return "accepted"
            except rotor_auth.InvalidToken as e:
                return str(e)

        with ThreadPoolExecutor(16) as pool:  # a concurrent burst, then more
            results = list(pool.map(attempt, forged))
        self.assertNotIn("accepted", results)
        self.assertLessEqual(SERVER.fetches - before, 1, "fetches of the JWKS for 200 unknown kids inside one floor")
        self.assertTrue(any("fetched less than" in r for r in results))

    def test_rotation_reaches_the_app_after_the_floor(self):
        rotor_auth.verify(SERVER.token("k1"))
        rotor_auth._cache["tried"] = time.monotonic()  # a fetch just happened
        SERVER.add("k2")  # Rotor publishes a new key and signs with it
        with self.assertRaises(rotor_auth.InvalidToken):
            rotor_auth.verify(SERVER.token("k2"))  # inside the floor: fails at once
        rotor_auth._cache["tried"] -= rotor_auth.REFETCH_FLOOR  # the floor has passed
        self.assertEqual(rotor_auth.verify(SERVER.token("k2"))["sub"], "u1")

    def test_the_last_good_set_outlives_a_failing_rotor(self):
        rotor_auth.verify(SERVER.token("k1"))
        for name, fail in [("500", lambda: setattr(SERVER, "status", 500)), ("empty set", lambda: setattr(SERVER, "empty", True)),
                           ("not a key set", lambda: setattr(SERVER, "broken", True))]:
            with self.subTest(name):
                fail()
                self.stale()
                before = SERVER.fetches
                for _ in range(20):
                    self.assertEqual(rotor_auth.verify(SERVER.token("k1"))["sub"], "u1")
                with self.assertRaises(rotor_auth.InvalidToken):
                    rotor_auth.verify(SERVER.token("unknown", signing_kid="k1"))
                self.assertEqual(SERVER.fetches - before, 1, "fetches while failing, inside one floor")
                SERVER.status, SERVER.empty, SERVER.broken = 200, False, False
        self.stale()
        rotor_auth.verify(SERVER.token("k1"))  # and back to fetching when it answers

    def test_header_members_of_other_types_are_bad_tokens(self):
        for name, header in [
            ("typ number", {"typ": 123}),
            ("typ null", {"typ": None}),
            ("typ object", {"typ": {"a": 1}}),
            ("typ list", {"typ": ["at+jwt"]}),
            ("alg list", {"alg": ["EdDSA"]}),
            ("kid number", {"kid": 7}),
            ("kid object", {"kid": {"k": "k1"}}),
        ]:
            with self.subTest(name):
                tok = SERVER.token("k1")
                h, rest = tok.split(".", 1)
                hdr = json.loads(jwt.utils.base64url_decode(h))
                hdr.update(header)
                tok = jwt.utils.base64url_encode(json.dumps(hdr).encode()).decode() + "." + rest
                with self.assertRaises(rotor_auth.InvalidToken):
                    rotor_auth.verify(tok)


if __name__ == "__main__":
    unittest.main()
