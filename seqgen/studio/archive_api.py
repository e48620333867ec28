"""The archive's part of the studio's API (``archive.Archive``):

    GET    /api/batches                 the batches, newest first (short entries)
    GET    /api/batches/{id}            one batch as the page got it when it was made
    POST   /api/batches/{id}/star       {"starred": true|false}
    DELETE /api/batches/{id}            ?even_starred=true to delete a starred one
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from .archive import Archive


class StarRequest(BaseModel):
    """``POST /api/batches/{id}/star``'s body."""

    model_config = ConfigDict(extra="forbid")
    starred: bool


def add_routes(app: FastAPI, archive: Archive) -> None:
    """The archive's endpoints on ``app`` (plain functions: FastAPI runs them in its threads)."""

    @app.get("/api/batches")
    def batches() -> dict:
        return {"batches": archive.list()}

    @app.get("/api/batches/{batch}")
    def batch(batch: str) -> dict:
        return archive.get(batch)

    @app.post("/api/batches/{batch}/star")
    def star(batch: str, body: StarRequest) -> dict:
        return archive.star(batch, body.starred)

    @app.delete("/api/batches/{batch}")
    def delete(batch: str, even_starred: bool = False) -> dict:
        archive.delete(batch, even_starred)
        return {"deleted": batch}
