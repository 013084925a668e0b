"""/static: our scripts, styles and images. Scripts may be fetched from any origin with CORS: embed.js, on a
partner's page, imports web/static/live.js as a module, and a module from another origin loads only with CORS.
The scripts are the same public files for everyone; who may read an incident is decided by /api/embed and /live."""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class Static(StaticFiles):
    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith(".js"):
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response
