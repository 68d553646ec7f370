"""GET /v1/models: the loaded models; the first chat entry answers when a request names none."""

from fastapi import APIRouter

from appliance.api.deps import ModelsDep, PrincipalDep
from appliance.api.openai_types import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["openai"])

STARTED = 1764028800  # fixed 'created' value: the models have no meaningful creation time here


@router.get("/models")
async def list_models(models: ModelsDep, _: PrincipalDep) -> ModelList:
    engines = models.engines  # 503 while they are still loading
    cards = [ModelCard(id=mid, created=STARTED, kind="chat") for mid in engines.chat_models]
    if engines.embedder is not None:
        cards.append(ModelCard(id=engines.embedder.id, created=STARTED, kind="embedding"))
    cards += [ModelCard(id=mid, created=STARTED, kind="embedding") for mid in engines.extra_embedders]
    cards += [ModelCard(id=mid, created=STARTED, kind="speech") for mid in engines.transcribers]
    return ModelList(data=cards)
