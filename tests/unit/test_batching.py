"""The batching scheduler's arithmetic: the step cost model, shared prefixes, stop strings."""

from models.batch_job import safe_prefix_len
from models.prefix_cache import common_length
from models.step_cost import StepCost


def test_step_cost_learns_fixed_and_per_token_parts() -> None:
    cost = StepCost()
    assert cost.tokens_within(0.5) is None  # nothing seen yet: no limit
    for tokens in (8, 40, 8, 100, 8, 300, 9, 60):  # a CPU: 30 ms per step, 3 ms per token
        cost.add(tokens, 0.030 + 0.003 * tokens)
    assert 150 <= cost.tokens_within(0.5) <= 160  # (0.5 - 0.03) / 0.003 = 156


def test_reading_beside_slow_writers_at_most_doubles_their_step() -> None:
    cost = StepCost()
    for tokens in (8, 40, 8, 100, 8, 300):  # a fast machine: 30 ms + 3 ms per token
        cost.add(tokens, 0.030 + 0.003 * tokens)
    assert 147 <= cost.reading_room(8, 0.5) <= 148  # the half second is the limit
    slow = StepCost()
    for tokens in (20, 40, 20, 100, 20, 300):  # a big model on a CPU: 0.3 s + 10 ms per token
        slow.add(tokens, 0.3 + 0.01 * tokens)
    # twenty writers alone take 0.5 s: reading may make it 1 s, 70 tokens, 50 of them prompt
    assert 49 <= slow.reading_room(20, 0.5) <= 50
    assert slow.reading_room(60, 0.5) >= 32  # never less than a small slice


def test_step_cost_with_steps_all_alike_falls_back_to_the_average() -> None:
    cost = StepCost()
    for _ in range(6):
        cost.add(8, 0.08)
    assert cost.tokens_within(0.5) == 50


def test_common_length_and_stop_holding() -> None:
    assert common_length([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_length([], [1]) == 0
    assert safe_prefix_len("Hallo Wel", ["Welt"]) == len("Hallo ")  # "Wel" may become the stop
    assert safe_prefix_len("Hallo", ["xyz"]) == 5
