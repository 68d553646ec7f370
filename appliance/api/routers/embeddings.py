"""POST /v1/embeddings with the default embedding model (float or base64)."""

from __future__ import annotations

import base64
import struct

from fastapi import APIRouter

from appliance.api.deps import EmbeddingsDep, PrincipalDep
from appliance.api.openai_types import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage

router = APIRouter(prefix="/v1", tags=["openai"])


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


@router.post("/embeddings")
async def embeddings(req: EmbeddingRequest, service: EmbeddingsDep, _: PrincipalDep) -> EmbeddingList:
    result = await service.embed(req.texts(), model=req.model, dimensions=req.dimensions,
                                 one_text=isinstance(req.input, str))
    data = [
        Embedding(index=i, embedding=_b64(v) if req.encoding_format == "base64" else v)
        for i, v in enumerate(result.vectors)
    ]
    total = sum(result.tokens)
    return EmbeddingList(data=data, model=result.model, usage=EmbeddingUsage(prompt_tokens=total, total_tokens=total))
