"""The batching scheduler's arithmetic: the step cost model, shared prefixes, stop strings."""

from models.batching import StepCost, common_length, safe_prefix_len


def test_step_cost_learns_fixed_and_per_token_parts() -> None:
    cost = StepCost()
    assert cost.tokens_within(0.5) is None  # nothing seen yet: no limit
    for tokens in (8, 40, 8, 100, 8, 300, 9, 60):  # a CPU: 30 ms per step, 3 ms per token
        cost.add(tokens, 0.030 + 0.003 * tokens)
    assert 150 <= cost.tokens_within(0.5) <= 160  # (0.5 - 0.03) / 0.003 = 156


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
