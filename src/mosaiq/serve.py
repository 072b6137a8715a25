"""``mosaiq serve``: the benchmark in a browser (Datasette over ``exports/mosaiq.db``).

The landing page (``/``) is the catalogue; ``/-/figures`` shows the benchmark figures
(``benchmark/plots/*.png``, served under ``/figures/``), and the leaderboard is a table. Table
pages offer the facets, column descriptions and canned queries of ``exports/mosaiq.metadata.json``.
The server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from datasette import hookimpl

from mosaiq.db import DB_NAME, DB_PATH, METADATA_PATH, PLOTS
from mosaiq.errors import MosaiqError

TEMPLATES = Path(__file__).with_name("serve_templates")
STATIC = Path(__file__).with_name("serve_static")
PLUGIN_NAME = "mosaiq-serve"


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    """Datasette plugin hook (this module is the plugin): the landing page and the figures."""
    return [(r"^/$", _landing), (r"^/-/figures$", _figures)]


async def _landing(datasette: Any) -> Any:
    from datasette.utils.asgi import Response

    return Response.redirect(datasette.urls.table(DB_NAME, "catalogue"))


async def _figures(datasette: Any, request: Any) -> Any:
    from datasette.utils.asgi import Response

    config = datasette.plugin_config("mosaiq") or {}
    html = await datasette.render_template(
        "figures.html",
        {
            "database": DB_NAME,
            "figures": config.get("figures", []),
            "leaderboard": config.get("leaderboard", False),
        },
        request=request,
    )
    return Response.html(html)


def make_datasette(root: Path) -> Any:
    """The Datasette instance serving ``root``'s database, metadata and figures."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    db, meta_path = root / DB_PATH, root / METADATA_PATH
    if not db.is_file() or not meta_path.is_file():
        raise MosaiqError(
            f"{db.relative_to(root)} is not built: run `mosaiq db` (stage `db` of `dvc repro`)"
        )
    meta = json.loads(meta_path.read_text())
    plots = root / PLOTS
    tables = meta.get("databases", {}).get(DB_NAME, {}).get("tables", {})
    meta["extra_css_urls"] = ["/mosaiq-static/mosaiq.css"]
    meta.setdefault("plugins", {})["mosaiq"] = {
        "figures": sorted(p.name for p in plots.glob("*.png")),
        "leaderboard": "leaderboard" in tables,
    }
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(sys.modules[__name__], name=PLUGIN_NAME)
    return Datasette(
        immutables=[str(db)],
        metadata=meta,
        template_dir=str(TEMPLATES),
        static_mounts=[
            ("mosaiq-static", str(STATIC)),
            *([("figures", str(plots))] if plots.is_dir() else []),
        ],
        # suggested facets query every column (300 in clips): 15 s per page; facets are chosen
        settings={"facet_time_limit_ms": 2000, "sql_time_limit_ms": 5000, "suggest_facets": False},
    )


def serve(root: Path, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Run the server until interrupted."""
    import asyncio

    import uvicorn

    ds = make_datasette(root)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
