"""The front end (Flask): signs users in through Rotor with OpenID Connect.

Before Rotor it took the password itself, checked it against plain text in
its own database, signed HS256 tokens with a secret every service shared and
sent users back to the login page whenever a token expired. Now:

- "Sign in" sends the browser to Rotor's login page (authorization code flow
  with PKCE S256, state and nonce, through Authlib's Flask client). No
  password ever passes through this app.
- The tokens stay on the server, in a store keyed by a random session id;
  Flask's session cookie (signed, not encrypted: anyone holding it can read
  it) carries only that id and Authlib's sign-in state key.
- Before each call to the back end the access token is refreshed when it has
  less than REFRESH_MARGIN seconds left, so the user stays signed in while
  the refresh token lives. A refused refresh ends the local session and
  starts a sign-in that asks for the password again.
- "Sign out" ends Rotor's session too (RP-initiated logout).

Run: ROTOR_ISSUER=http://127.0.0.1:8080 ROTOR_CLIENT_ID=web ROTOR_CLIENT_SECRET=rcs_... \\
     SCHEDULES_API=http://127.0.0.1:8000 FLASK_SECRET_KEY=... python3 flask_app.py
"""

import html
import json
import logging
import os
import secrets
import time
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, request, session

from token_store import StateCache, TokenStore

ISSUER = os.environ.get("ROTOR_ISSUER", "http://127.0.0.1:8080").rstrip("/")
SCHEDULES_API = os.environ.get("SCHEDULES_API", "http://127.0.0.1:8000").rstrip("/")
# This app's URL as the browser sees it; the redirect URIs registered at
# Rotor are BASE_URL + "/callback" and BASE_URL + "/signed-out".
PORT = int(os.environ.get("PORT", "5000"))
BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:%d" % PORT).rstrip("/")
REFRESH_MARGIN = float(os.environ.get("REFRESH_MARGIN", "30"))


def client_secret():
    """ROTOR_CLIENT_SECRET, or the file ROTOR_CLIENT_SECRET_FILE names: the
    output of `rotor clients add --json` or the bare secret (compose)."""
    path = os.environ.get("ROTOR_CLIENT_SECRET_FILE")
    if not path:
        return os.environ.get("ROTOR_CLIENT_SECRET", "")
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)["client_secret"]
    except (ValueError, TypeError, KeyError):
        return text.strip()


app = Flask(__name__)
# Signs Flask's session cookie only; it verifies no token and forges none.
app.secret_key = os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32)
app.config.update(
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    SESSION_COOKIE_SECURE=BASE_URL.startswith("https://"),
)

tokens = TokenStore(os.environ.get("SESSION_DIR") or None)

# Authlib keeps each sign-in's state, nonce and PKCE verifier in the cache
# (server-side), and only the state's key in the cookie.
oauth = OAuth(app, cache=StateCache())
oauth.register(
    "rotor",
    client_id=os.environ.get("ROTOR_CLIENT_ID", "web"),
    client_secret=client_secret(),
    server_metadata_url=ISSUER + "/.well-known/openid-configuration",
    client_kwargs={"scope": "openid profile offline_access schedules:read", "code_challenge_method": "S256"},
)
log = logging.getLogger("flask_app")


class RefreshRefused(Exception):
    """Rotor refused the refresh token: the sign-in is over."""


def fresh_tokens(sid):
    """The session's tokens, with an access token that has more than
    REFRESH_MARGIN seconds left, refreshed first if needed.

    The refresh runs under the session's lock and re-reads the store under
    it: two requests refreshing with one refresh token would present a spent
    token, which Rotor answers by revoking the whole family."""
    with tokens.lock(sid):
        tok = tokens.get(sid)
        if tok is None:
            raise RefreshRefused()
        if tok["expires_at"] - time.time() > REFRESH_MARGIN:
            return tok
        try:
            # scope=None keeps the grant's scope: Authlib would otherwise
            # send the registered scope list, and a refresh may narrow
            # scope, never widen it (RFC 6749 §6).
            new = oauth.rotor.fetch_access_token(grant_type="refresh_token", refresh_token=tok["refresh_token"], scope=None)
        except OAuthError as e:
            if e.error != "invalid_grant":
                raise
            log.info("refresh refused; signing out %s", tok["sub"])
            tokens.delete(sid)
            raise RefreshRefused() from None
        tok["access_token"] = new["access_token"]
        tok["expires_at"] = new["expires_at"]
        tok["refresh_token"] = new.get("refresh_token") or tok["refresh_token"]  # rotated on every use
        tokens.put(sid, tok)
        log.info("access token refreshed for %s", tok["sub"])
        return tok


@app.after_request
def security_headers(resp):
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; form-action 'self' %s; frame-ancestors 'none'; base-uri 'none'" % ISSUER
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/login")
def login():
    # ?reauth=1: a refused refresh asks for the password again.
    extra = {"prompt": "login"} if request.args.get("reauth") == "1" else {}
    return oauth.rotor.authorize_redirect(BASE_URL + "/callback", **extra)


@app.get("/callback")
def callback():
    """Authlib checks the state against the one this browser's sign-in
    started with, redeems the code with the PKCE verifier and verifies the
    ID token (signature through the JWKS, iss, aud, exp, nonce, at_hash)."""
    try:
        token = oauth.rotor.authorize_access_token()
        profile = oauth.rotor.userinfo(token=token)
        if profile["sub"] != token["userinfo"]["sub"]:
            raise OAuthError(description="UserInfo names another subject than the ID token")
    except (OAuthError, KeyError, requests.RequestException) as e:
        # The reason goes to the log, never to the page.
        log.warning("sign-in refused: %s", type(e).__name__)
        return page("Sign-in failed", '<p id="error" role="alert">This sign-in was not started here, was already used, or was refused. <a href="/">Start again</a>.</p>', 400)
    old = session.get("sid")
    if old:
        tokens.delete(old)
    # A new id at every sign-in: an id planted earlier is worth nothing now.
    sid = secrets.token_urlsafe(32)
    tokens.put(sid, {
        "access_token": token["access_token"], "refresh_token": token.get("refresh_token", ""),
        "id_token": token["id_token"], "expires_at": token["expires_at"], "sub": profile["sub"],
        "preferred_username": profile.get("preferred_username", ""), "name": profile.get("name", ""),
    })
    session.clear()
    session["sid"] = sid
    log.info("signed in: %s", profile["sub"])
    return redirect("/")


@app.get("/")
def home():
    sid = session.get("sid")
    if not sid or tokens.get(sid) is None:
        return redirect("/login")
    try:
        tok = fresh_tokens(sid)
    except RefreshRefused:
        session.clear()
        return redirect("/login?reauth=1")
    except (OAuthError, requests.RequestException) as e:
        log.warning("refresh failed: %s", type(e).__name__)
        return page("Something went wrong", '<p id="error" role="alert">Rotor could not be reached to renew your sign-in. Try again in a moment.</p>', 502)
    try:
        resp = requests.get(SCHEDULES_API + "/schedules/20201209", headers={"Authorization": "Bearer " + tok["access_token"]}, timeout=10)
    except requests.RequestException as e:
        log.warning("schedules API unreachable: %s", type(e).__name__)
        return page("Something went wrong", '<p id="error" role="alert">The schedules could not be fetched.</p>', 502)
    if resp.status_code != 200:
        log.warning("schedules API answered %d (%s)", resp.status_code, resp.headers.get("WWW-Authenticate", ""))
        return page("Something went wrong", '<p id="error" role="alert">The schedules could not be fetched.</p>', 502)
    items = "".join(
        "<li><time>%s</time> %s: %s</li>" % (html.escape(s["datetime"]), html.escape(s["name"]), html.escape(s["title"]))
        for s in resp.json()["schedules"]
    ) or "<li>Nothing planned.</li>"
    body = (
        '<h1>Schedules</h1><p id="user">Signed in as <strong id="preferred-username">%s</strong> (<span id="name">%s</span>)</p>'
        '<h2>9 December 2020</h2><ul id="schedules">%s</ul>'
        '<form method="post" action="/logout"><button type="submit" id="signout">Sign out</button></form>'
    ) % (html.escape(tok["preferred_username"]), html.escape(tok["name"]), items)
    return page("Schedules", body)


@app.post("/logout")
def logout():
    """Ends the local session, then Rotor's (OIDC RP-Initiated Logout 1.0)
    with the ID token as the hint, back to the registered post-logout page."""
    sid = session.pop("sid", None)
    tok = tokens.get(sid) if sid else None
    session.clear()
    if tok is None:
        return redirect("/signed-out", 303)
    tokens.delete(sid)
    end_session = oauth.rotor.load_server_metadata().get("end_session_endpoint")
    if not end_session:
        return redirect("/signed-out", 303)
    log.info("signed out: %s", tok["sub"])
    return redirect(end_session + "?" + urlencode({
        "id_token_hint": tok["id_token"], "post_logout_redirect_uri": BASE_URL + "/signed-out",
        "client_id": oauth.rotor.client_id,
    }), 303)


@app.get("/signed-out")
def signed_out():
    return page("Signed out", '<h1>Signed out</h1><p id="signed-out">You are signed out, here and at Rotor.</p><p><a href="/" id="signin">Sign in</a></p>')


CSS = """body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px #0002}
h1{margin-top:0}ul{padding-left:1.2rem}li{margin:.3rem 0}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:.3rem;background:#1f56c2;color:#fff;cursor:pointer}
button:focus-visible,a:focus-visible{outline:3px solid #1f56c2;outline-offset:2px}
@media (prefers-color-scheme:dark){body{background:#14171f;color:#e6e9ef}main{background:#1d2230}a{color:#9cc0ff}}
"""


@app.get("/style.css")
def style():
    return CSS, 200, {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=3600"}


def page(title, body, status=200):
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>%s</title><link rel="stylesheet" href="/style.css"></head><body><main>%s</main></body></html>'
    ) % (html.escape(title), body)
    return doc, status, {"Content-Type": "text/html; charset=utf-8"}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=PORT, threaded=True)
