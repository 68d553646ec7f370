"""What one step of the batching engine costs, so prompts are read in slices that keep the others
writing at a steady pace (models/batching.py)."""

from __future__ import annotations

from collections import deque

STEP_SECONDS = 0.5
"""While others are writing, prompts are read in slices of about this much work per step."""

MIN_READ = 32
"""Prompt tokens a step reads at least, however slow the steps are."""


class StepCost:
    """What a step costs: seconds = fixed + per_token * tokens, fitted over the recent steps (least
    squares). On a CPU the fixed part (reading the weights once) is large, so prompts are read in
    as few steps as the writers allow; on a GPU both parts are small and the slices grow."""

    def __init__(self, window: int = 64) -> None:
        self._steps: deque[tuple[int, float]] = deque(maxlen=window)

    def add(self, tokens: int, seconds: float) -> None:
        self._steps.append((tokens, seconds))

    def _fit(self) -> tuple[float, float] | None:
        """(fixed seconds, seconds per token), or None until enough steps were seen."""
        if len(self._steps) < 4:
            return None
        n = len(self._steps)
        mean_x = sum(x for x, _ in self._steps) / n
        mean_y = sum(y for _, y in self._steps) / n
        var = sum((x - mean_x) ** 2 for x, _ in self._steps)
        per_token = sum((x - mean_x) * (y - mean_y) for x, y in self._steps) / var if var else 0.0
        fixed = mean_y - per_token * mean_x
        if per_token <= 0 or fixed < 0:  # all steps alike, or noise: the plain average per token
            per_token, fixed = mean_y / max(mean_x, 1.0), 0.0
        return fixed, per_token

    def tokens_within(self, seconds: float) -> int | None:
        """How many tokens a step of ``seconds`` holds; None until enough steps were seen."""
        fit = self._fit()
        return None if fit is None else max(0, int((seconds - fit[0]) / fit[1]))

    def reading_room(self, writers: int, seconds: float) -> int | None:
        """Prompt tokens to read beside ``writers`` so that a step takes about ``seconds``, or, where
        even the writers alone take longer (a big model on a CPU), at most twice what they take."""
        fit = self._fit()
        if fit is None:
            return None
        fixed, per_token = fit
        limit = max(seconds, 2 * (fixed + per_token * writers))
        return max(MIN_READ, int((limit - fixed) / per_token) - writers)
