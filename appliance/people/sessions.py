"""Who is asking: a bearer key or the web UI's signed session cookie. Used by the API's
dependencies and by the web UI alike, so both decide the same way."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from appliance.people.accounts import Accounts, Principal

SESSION_USER = "user_id"
SESSION_STAMP = "stamp"
SESSION_ID = "sid"
"""The session's id on the server (ui_sessions): signing out deletes it there."""


def principal_from_request(request: HTTPConnection, accounts: Accounts) -> Principal | None:
    """A bearer key wins; otherwise the UI session cookie."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return accounts.principal_for_key(token.strip())
    user_id = request.session.get(SESSION_USER) if "session" in request.scope else None
    if isinstance(user_id, int):
        return accounts.by_session(user_id, request.session.get(SESSION_STAMP), request.session.get(SESSION_ID))
    return None
