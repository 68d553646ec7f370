"""The data directory and everything in it are the service's alone (0700/0600), whatever the umask."""

from __future__ import annotations

import os
import stat

import httpx

from appliance.server import create_app
from tests.support.apps import MINIMAL


async def test_everything_written_is_private_whatever_the_umask(settings, fake_engines) -> None:
    old = os.umask(0o022)  # as a careless start script would leave it
    try:
        settings.storage.data_dir.mkdir(parents=True, mode=0o755)  # made beforehand, world-readable
        app = create_app(settings, engines=fake_engines, mount_ui=False)
        services = app.state.services
        services.accounts.add("lea", "facility_admin", "geheim123")
        key, _ = services.accounts.create_key("lea")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                     headers={"Authorization": f"Bearer {key}"}) as api:
            r = await api.post("/api/collections/Hygiene/documents",
                               files={"file": ("Plan.md", "# Plan\n\nHände waschen.\n".encode(), "text/markdown")})
            assert r.status_code == 202
            services.handbooks.jobs.wait_idle()
            assert (await api.get(f"/api/jobs/{r.json()['job']['id']}")).json()["job"]["status"] == "done"
            services.accounts.add("otto", "app_author", "geheim123")
            services.apps.create(services.accounts.principal_for_key(services.accounts.create_key("otto")[0]),
                                 MINIMAL)
        services.close()
    finally:
        os.umask(old)
    data = settings.storage.data_dir
    loose = []
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if mode & 0o077:
            loose.append((str(path.relative_to(data)), oct(mode)))
    assert not loose, loose
    assert (data / "appliance.db").exists() and any((data / "documents").iterdir())
