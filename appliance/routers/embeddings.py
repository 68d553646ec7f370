"""POST /v1/embeddings with the default embedding model (float or base64)."""

from __future__ import annotations

import base64
import struct

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from appliance.chat_service import unknown_model_error
from appliance.deps import EnginesDep, PrincipalDep
from appliance.engines import UnknownModel
from appliance.errors import ApiError
from appliance.openai_types import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage

router = APIRouter(prefix="/v1", tags=["openai"])


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


@router.post("/embeddings")
async def embeddings(req: EmbeddingRequest, engines: EnginesDep, _: PrincipalDep) -> EmbeddingList:
    try:
        embedder = engines.embeddings(req.model)
    except UnknownModel as exc:
        raise unknown_model_error(exc) from None
    texts = req.texts()
    for i, text in enumerate(texts):
        if not text.strip():
            param = "input" if isinstance(req.input, str) else f"input.{i}"
            raise ApiError(422, f"Feld '{param}' ist leer.", f"Field '{param}' is empty.",
                           code="invalid_value", param=param)
    if req.dimensions is not None and req.dimensions != embedder.dimensions:
        raise ApiError(400, f"Dieses Modell liefert nur {embedder.dimensions} Dimensionen.",
                       f"This model only supports {embedder.dimensions} dimensions.",
                       code="invalid_value", param="dimensions")
    counts = await run_in_threadpool(embedder.count_tokens, texts)
    for i, count in enumerate(counts):
        if count > embedder.max_tokens:
            raise ApiError(
                400,
                f"Eingabe {i} ist zu lang: {count} Token, das Modell nimmt höchstens {embedder.max_tokens}.",
                f"Input {i} is too long: {count} tokens, the model takes at most {embedder.max_tokens}.",
                code="context_length_exceeded",
                param="input",
            )
    vectors = await run_in_threadpool(embedder.embed, texts)
    data = [
        Embedding(index=i, embedding=_b64(v) if req.encoding_format == "base64" else v)
        for i, v in enumerate(vectors)
    ]
    total = sum(counts)
    return EmbeddingList(data=data, model=embedder.id, usage=EmbeddingUsage(prompt_tokens=total, total_tokens=total))
