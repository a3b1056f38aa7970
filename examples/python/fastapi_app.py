"""The schedules back end (FastAPI), verifying Rotor access tokens.

Before Rotor it held SECRET_KEY=supersecret, so it could both verify and
forge tokens. Now it holds nothing secret: it verifies against Rotor's JWKS.

Run: ROTOR_ISSUER=http://127.0.0.1:8080 python3 -m uvicorn fastapi_app:app --port 8000
"""

import logging
import re

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

import rotor_auth

app = FastAPI(title="schedules")
# uvicorn's own logger, so the lines land in its log. Rejections say why
# (rotor_auth.InvalidToken's reason: never the token itself).
log = logging.getLogger("uvicorn.error")

SCHEDULES = {
    "20201209": [
        {"key": "HL0503_20201209_230000", "video_id": "yEttl2nfhsQ", "datetime": "20201209 230000", "name": "Polka", "title": "Late-night stream"},
        {"key": "HL0201_20201209_200000", "video_id": "aB3dE5gH7jK", "datetime": "20201209 200000", "name": "Subaru", "title": "Evening chat"},
    ],
}


def bearer_claims(request: Request):
    """RFC 6750: a bare Bearer challenge without a token, invalid_token otherwise."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    try:
        return rotor_auth.verify(token.strip())
    except rotor_auth.InvalidToken as e:
        log.info("token rejected: %s", e)
        raise HTTPException(401, detail="invalid_token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def require_scope(scope):
    """RFC 6750 §3.1: a valid token without the route's scope is 403
    insufficient_scope, naming the scope it needs."""

    def check(claims=Depends(bearer_claims)):
        if not rotor_auth.has_scope(claims, scope):
            raise HTTPException(
                403,
                detail="insufficient_scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return claims

    return check


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/schedules/{date}")
def schedules(date: str, claims=Depends(require_scope("schedules:read"))):
    if len(date) != 8 or not date.isdigit():
        raise HTTPException(400, detail="date must be YYYYMMDD")
    items = sorted(SCHEDULES.get(date, []), key=lambda s: s["datetime"])
    return {"result": len(items), "schedules": items, "requested_by": claims["sub"]}


class NewSchedule(BaseModel):
    datetime: str  # "YYYYMMDD hhmmss"
    name: str
    title: str
    video_id: str = ""


DATETIME = re.compile(r"^\d{8} \d{6}$")


@app.post("/schedules", status_code=201)
def create_schedule(body: NewSchedule, claims=Depends(require_scope("schedules:write"))):
    if not DATETIME.match(body.datetime) or not body.name or not body.title or len(body.name) > 200 or len(body.title) > 500:
        raise HTTPException(400, detail="datetime (YYYYMMDD hhmmss), name and title are required")
    item = body.dict()
    jti = claims.get("jti") if isinstance(claims.get("jti"), str) else ""
    item["key"] = body.datetime.replace(" ", "_") + "_" + jti[:8]
    item["created_by"] = claims["sub"]
    SCHEDULES.setdefault(body.datetime[:8], []).append(item)
    log.info("schedule created: %s by %s", item["key"], claims["sub"])
    return item
