"""The front end (Flask): logs users in through Rotor and keeps them logged in.

Before Rotor it checked passwords against plain text in its own database,
signed HS256 tokens with a shared secret, and sent users back to the login
page whenever a token expired. Now Rotor checks the password (argon2id),
signs the token with a key only Rotor holds, and the refresh token renews
an expired access token without bothering the user.

Run: ROTOR_ISSUER=http://127.0.0.1:8080 ROTOR_CLIENT_ID=web ROTOR_CLIENT_SECRET=rcs_... \
     SCHEDULES_API=http://127.0.0.1:8000 FLASK_SECRET_KEY=... python3 flask_app.py
"""

import json
import logging
import os
import secrets
import time
import urllib.error
import urllib.request

from flask import Flask, redirect, request, session, url_for

import rotor_auth

app = Flask(__name__)
# Signs Flask's session cookie only; it verifies no token and forges none.
app.secret_key = os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32)

CLIENT_ID = os.environ.get("ROTOR_CLIENT_ID", "web")
CLIENT_SECRET = os.environ.get("ROTOR_CLIENT_SECRET", "")
SCHEDULES_API = os.environ.get("SCHEDULES_API", "http://127.0.0.1:8000")
SCOPE = "schedules:read"


def store_tokens(body):
    session["access_token"] = body["access_token"]
    session["refresh_token"] = body.get("refresh_token", session.get("refresh_token"))


def refresh():
    """Trade the refresh token for a new pair; Rotor rotates it every time."""
    rt = session.get("refresh_token")
    if not rt:
        return False
    status, body = rotor_auth.token_request({
        "grant_type": "refresh_token", "refresh_token": rt,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    })
    if status != 200:
        session.clear()
        return False
    store_tokens(body)
    app.logger.info("access token refreshed")
    return True


@app.before_request
def keep_logged_in():
    if request.endpoint in ("login", "healthz"):
        return None
    token = session.get("access_token")
    if token:
        try:
            rotor_auth.verify(token)
            return None
        except rotor_auth.InvalidToken:
            pass
        # Expired (or keys rotated past it): refresh instead of logging out.
        if refresh():
            return None
    return redirect(url_for("login"))


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return '<form method="post"><input name="username"><input name="password" type="password"><button>Log in</button></form>'
    status, body = rotor_auth.token_request({
        "grant_type": "password", "username": request.form.get("username", ""),
        "password": request.form.get("password", ""), "scope": SCOPE,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    })
    if status != 200:
        # Rotor says invalid_grant for a wrong password and an unknown user
        # alike, and 429 with Retry-After when it throttles guessing.
        return {"error": body.get("error", "login_failed")}, 401 if status == 400 else status
    store_tokens(body)
    return redirect(url_for("schedules", date="20201209"))


@app.get("/schedules/<date>")
def schedules(date):
    req = urllib.request.Request(f"{SCHEDULES_API}/schedules/{date}")
    req.add_header("Authorization", "Bearer " + session["access_token"])
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        return {"error": "schedules API answered %d" % e.code}, 502


@app.get("/me")
def me():
    claims = rotor_auth.verify(session["access_token"])
    return {"sub": claims["sub"], "scope": claims.get("scope"), "exp": claims["exp"], "now": int(time.time())}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
