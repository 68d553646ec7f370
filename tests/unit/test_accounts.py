from pathlib import Path

import pytest

from appliance.infra.db import MIGRATIONS, Database
from appliance.people.accounts import AccountError, Accounts, Role

HEAD = max(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()
    return Accounts(db)


def test_database_uses_wal(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.migrate()
    db.migrate()  # idempotent
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD


def test_add_authenticate_disable(accounts: Accounts) -> None:
    p = accounts.add("anna", "staff", "geheim123")
    assert p.role is Role.staff
    assert accounts.authenticate("anna", "geheim123") == p
    assert accounts.authenticate("anna", "falsch") is None
    assert accounts.authenticate("niemand", "geheim123") is None
    accounts.set_disabled("anna")
    assert accounts.authenticate("anna", "geheim123") is None
    assert accounts.by_id(p.user_id) is None


def test_password_is_hashed_with_argon2(accounts: Accounts) -> None:
    accounts.add("anna", "staff", "geheim123")
    with accounts.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar()
    assert stored.startswith("$argon2id$")
    assert "geheim123" not in stored


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("anna", "chef", "geheim123", "Unbekannte Rolle 'chef'"),
        ("anna", "staff", "kurz", "mindestens 8 Zeichen"),
        ("anna ", "staff", "geheim", "mindestens 8 Zeichen"),
        ("an  na", "staff", "geheim123", "Ungültiger Name"),
        ("-anna", "staff", "geheim123", "Ungültiger Name"),
        ("anna<script>", "staff", "geheim123", "Ungültiger Name"),
        ("", "staff", "geheim123", "Ungültiger Name"),
    ],
)
def test_bad_input(accounts: Accounts, name: str, role: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.add(name, role, password)
    assert accounts.count() == 0


def test_duplicate_name_keeps_the_first(accounts: Accounts) -> None:
    accounts.add("anna", "staff", "geheim123")
    with pytest.raises(AccountError, match="schon ein Konto"):
        accounts.add("anna", "dpo", "anderes123")
    assert accounts.authenticate("anna", "geheim123") is not None


def test_first_admin_only_once(accounts: Accounts) -> None:
    admin = accounts.add_first_admin("leitung", "geheim123")
    assert admin.role is Role.facility_admin
    with pytest.raises(AccountError, match="abgeschlossen"):
        accounts.add_first_admin("zweiter", "geheim123")


def test_keys_are_stored_as_hash_and_revocable(accounts: Accounts) -> None:
    accounts.add("anna", "staff", "geheim123")
    key, info = accounts.create_key("anna", "Skript")
    assert key.startswith("sk-box-") and len(key) > 40
    with accounts.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_hash, prefix FROM api_keys").one()
    assert key not in stored[0] and stored[1] == info.prefix and key.startswith(info.prefix)
    assert accounts.principal_for_key(key).name == "anna"
    assert accounts.principal_for_key(key + "x") is None
    accounts.revoke_key(info.prefix)
    assert accounts.principal_for_key(key) is None
    with pytest.raises(AccountError, match="Kein Schlüssel"):
        accounts.revoke_key("sk-box-nope")


def test_keys_of_a_disabled_user_stop_working(accounts: Accounts) -> None:
    accounts.add("anna", "staff", "geheim123")
    key, _ = accounts.create_key("anna")
    accounts.set_disabled("anna")
    assert accounts.principal_for_key(key) is None
    with pytest.raises(AccountError, match="gesperrt"):
        accounts.create_key("anna")


def test_names_with_umlauts_and_spaces(accounts: Accounts) -> None:
    p = accounts.add("Jörg Müller", "staff", "geheim123")
    assert p.name == "Jörg Müller"
    nfd = "Jo\u0308rg Mu\u0308ller"  # the same name typed on a system that decomposes umlauts
    assert accounts.authenticate(nfd, "geheim123") == p
    with pytest.raises(AccountError, match="schon ein Konto"):
        accounts.add(nfd, "staff", "geheim123")
    accounts.set_password(nfd, "neues-passwort")
    key, _ = accounts.create_key(nfd)
    assert accounts.principal_for_key(key) == p
    with pytest.raises(AccountError, match="Ungültiger Name"):
        accounts.add("_intern", "staff", "geheim123")


def test_a_name_that_passes_for_another_is_refused(accounts: Accounts) -> None:
    """Unicode look-alikes: nobody gets an account that reads like a colleague's (or the admin's)."""
    accounts.add("anna", "facility_admin", "geheim123")
    for twin in ("Anna", "ANNA"):
        with pytest.raises(AccountError, match="sähe gleich aus"):
            accounts.add(twin, "staff", "geheim123")
    for mixed in ("\u0430nna", "\uff41nna", "p\u0430ypal"):  # a Cyrillic а; a full-width ａ
        with pytest.raises(AccountError, match="mischt Schriften"):
            accounts.add(mixed, "staff", "geheim123")
    assert accounts.authenticate("\u0430nna", "geheim123") is None  # nor signs in as her
    for fine in ("Ирина Петрова", "علي", "Jürgen Müller-Lüdenscheidt", "jürgen.m@haus"):
        assert accounts.add(fine, "staff", "geheim123").name == fine
