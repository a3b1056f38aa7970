"""The schedules back end (FastAPI), verifying Rotor access tokens.

Before Rotor it held SECRET_KEY=supersecret, so it could both verify and
forge tokens. Now it holds nothing secret: it verifies against Rotor's JWKS.

Run: ROTOR_ISSUER=http://127.0.0.1:8080 python3 -m uvicorn fastapi_app:app --port 8000
"""

import logging

from fastapi import Depends, FastAPI, HTTPException, Request

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
