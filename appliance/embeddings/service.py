"""Embeddings for the OpenAI-compatible endpoint: checked input, vectors from the loaded model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from appliance.engines import Models
from appliance.infra.errors import ApiError


@dataclass
class Vectors:
    model: str
    vectors: list[list[float]]
    tokens: list[int]


class EmbeddingsService:
    def __init__(self, models: Models) -> None:
        self.models = models

    async def embed(self, texts: list[str], *, model: str | None = None, dimensions: int | None = None,
                    one_text: bool = False) -> Vectors:
        """One normalised vector per text. ``one_text``: the caller sent a single string (errors then
        name the field 'input', else 'input.N'). Empty texts, other dimensions than the model's and
        texts over its token limit are refused before any work."""
        embedder = self.models.embedder(model)
        for i, text in enumerate(texts):
            if not text.strip():
                param = "input" if one_text else f"input.{i}"
                raise ApiError(422, f"Feld '{param}' ist leer.", f"Field '{param}' is empty.",
                               code="invalid_value", param=param)
        if dimensions is not None and dimensions != embedder.dimensions:
            raise ApiError(400, f"Dieses Modell liefert nur {embedder.dimensions} Dimensionen.",
                           f"This model only supports {embedder.dimensions} dimensions.",
                           code="invalid_value", param="dimensions")
        counts = await asyncio.to_thread(embedder.count_tokens, texts)
        for i, count in enumerate(counts):
            if count > embedder.max_tokens:
                raise ApiError(
                    400,
                    f"Eingabe {i} ist zu lang: {count} Token, das Modell nimmt höchstens {embedder.max_tokens}.",
                    f"Input {i} is too long: {count} tokens, the model takes at most {embedder.max_tokens}.",
                    code="context_length_exceeded",
                    param="input",
                )
        vectors = await asyncio.to_thread(embedder.embed, texts)
        return Vectors(embedder.id, vectors, counts)
