"""Bearer-token authentication: one random token per server start, in the server file."""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request


def new_token() -> str:
    return secrets.token_urlsafe(32)


class BearerToken:
    """A FastAPI dependency: 401 without a token, 403 with a wrong one."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(
                401,
                "Missing bearer token: send 'Authorization: Bearer <token>'"
                " with the token from the server file beside the database",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(value.strip().encode(), self.token.encode()):
            raise HTTPException(
                403,
                "Invalid bearer token: read the current token from the "
                "server file (it changes at every server start)",
            )
