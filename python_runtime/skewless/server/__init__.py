"""The HTTP feature server (`skewless serve`): an ASGI app on uvicorn over `AsyncFeatureStore`.

It sits on top of the stages (DESIGN §2): it imports any of them, nothing imports it. The
endpoints, the request and response shapes, errors, auth, TLS, reload and metrics are in
docs/server.md; `/openapi.json` describes every route.

    from skewless.server import FeatureServer, ServerConfig
    app = FeatureServer(ServerConfig(project_dir=Path("examples/payments")))  # any ASGI server
"""

from __future__ import annotations

from skewless.server.app import FeatureServer, app_from_env
from skewless.server.config import ServerConfig

__all__ = ["FeatureServer", "ServerConfig", "app_from_env"]
