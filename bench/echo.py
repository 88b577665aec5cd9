"""A bare FastAPI app that only validates and echoes a JSON body: the HTTP baseline."""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI


def create_echo() -> FastAPI:
    """The echo app: ``POST /echo`` returns the JSON object it was sent."""
    app = FastAPI()

    @app.post("/echo")
    def echo(body: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008  # FastAPI idiom
        return body

    return app
