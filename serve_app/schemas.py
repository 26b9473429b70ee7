"""HTTP request bodies (they also document the API at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClassifyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    external_id: str | None = Field(default=None, description="send it to retry safely: storing is idempotent")
    created_at: str | None = Field(default=None, description="ISO 8601; no zone means UTC; default: now")
    source: str | None = None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = None
    items: list[ClassifyItem] | None = None
    persist: bool = Field(default=False, description="store results and count them in the topic aggregates")

    @model_validator(mode="after")
    def _one_form(self) -> ClassifyRequest:
        if (self.texts is None) == (self.items is None):
            raise ValueError("give exactly one of 'texts' or 'items'")
        return self


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not silently ignored

    input: str | list[str]
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, description="OpenAI's end-user id; accepted and ignored")
