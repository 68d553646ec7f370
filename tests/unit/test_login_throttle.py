"""The login throttle: per device and account, per device, per account; bounded memory."""

from __future__ import annotations

from appliance.people.throttle import LoginThrottle


def test_spellings_of_one_name_share_their_tries() -> None:
    throttle = LoginThrottle(attempts=5)
    for name in ("anna", " anna", "anna ", "ANNA", "Anna"):
        assert throttle.wait_seconds("10.0.0.7", name) == 0
        throttle.failed("10.0.0.7", name)
    assert throttle.wait_seconds("10.0.0.7", "anna") > 0
    assert throttle.wait_seconds("10.0.0.7", "ＡＮＮＡ") > 0  # full-width letters are the same account
    assert throttle.wait_seconds("10.0.0.8", "anna") == 0  # a colleague's device is not locked out
    throttle.succeeded("10.0.0.8", "anna")


def test_one_device_trying_many_names_and_many_devices_one_name_are_slowed() -> None:
    throttle = LoginThrottle(attempts=5, wide_attempts=20)
    for n in range(20):
        throttle.failed("10.0.0.9", f"person{n}")
    assert throttle.wait_seconds("10.0.0.9", "somebody-new") > 0
    for n in range(20):
        throttle.failed(f"10.0.1.{n}", "bert")
    assert throttle.wait_seconds("10.0.2.1", "bert") > 0


def test_the_table_stays_bounded_whatever_is_typed() -> None:
    throttle = LoginThrottle(max_entries=300)
    for n in range(5000):
        throttle.failed(f"10.0.{n // 250}.{n % 250}", f"name-{n}")
    assert len(throttle) <= 300
