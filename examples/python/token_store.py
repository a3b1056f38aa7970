"""Server-side stores for the Flask front end: tokens by session id, and
Authlib's sign-in state.

The browser's cookie holds a random session id; the tokens stay here. Only a
SHA-256 of the id is stored, so whoever reads the store cannot ride a
session with what they read. By default everything is in memory (a restart
signs everyone out); with a directory, each session is one JSON file (mode
0600), written atomically, and outlives a restart.
"""

import hashlib
import json
import os
import tempfile
import threading
import time


def _key(sid):
    return hashlib.sha256(sid.encode()).hexdigest()


class TokenStore:
    def __init__(self, directory=None):
        self._dir = directory
        self._mem = {}
        self._mu = threading.Lock()
        self._locks = {}
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)

    def lock(self, sid):
        """A lock per session, for the refresh (see fresh_tokens)."""
        with self._mu:
            return self._locks.setdefault(_key(sid), threading.Lock())

    def _path(self, sid):
        return os.path.join(self._dir, _key(sid) + ".json")

    def get(self, sid):
        if not self._dir:
            with self._mu:
                v = self._mem.get(_key(sid))
                return dict(v) if v is not None else None
        try:
            with open(self._path(sid)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def put(self, sid, data):
        if not self._dir:
            with self._mu:
                self._mem[_key(sid)] = dict(data)
            return
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, self._path(sid))
        except BaseException:
            os.unlink(tmp)
            raise

    def delete(self, sid):
        with self._mu:
            self._mem.pop(_key(sid), None)
            self._locks.pop(_key(sid), None)
        if self._dir:
            try:
                os.remove(self._path(sid))
            except FileNotFoundError:
                pass


class StateCache:
    """The cache interface Authlib's OAuth(app, cache=...) uses for each
    sign-in's state, nonce and PKCE verifier: get, set with a lifetime,
    delete. In memory, expired entries dropped as new ones come."""

    def __init__(self):
        self._mu = threading.Lock()
        self._d = {}

    def get(self, key):
        with self._mu:
            v = self._d.get(key)
            if v is None or v[1] < time.monotonic():
                return None
            return v[0]

    def set(self, key, value, expires=None):
        now = time.monotonic()
        with self._mu:
            for k in [k for k, v in self._d.items() if v[1] < now]:
                del self._d[k]
            self._d[key] = (value, now + (expires or 3600))

    def delete(self, key):
        with self._mu:
            self._d.pop(key, None)
