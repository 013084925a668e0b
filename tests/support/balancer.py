"""The production load balancer on loopback: Debian's nginx running deploy/nginx.conf in front of local nodes."""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from tests.support.services import HOST, WebService, require_binary

NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def _marked(text: str, name: str) -> re.Match[str]:
    """The lines between ``# BEGIN name`` and ``# END name``; deploy/nginx.conf must have each block once."""
    pattern = re.compile(rf"^([ \t]*)# BEGIN {name}\n(.*?)^[ \t]*# END {name}\n", re.MULTILINE | re.DOTALL)
    found = list(pattern.finditer(text))
    if len(found) != 1:
        raise ValueError(f"{NGINX_CONF} must mark its {name} with '# BEGIN {name}' and '# END {name}' once")
    return found[0]


def render_config(template: str, upstreams: Sequence[str], listen: str) -> str:
    """deploy/nginx.conf with local upstreams and listen address; everything else as deployed.

    Each upstream gets the parameters of the file's first server line (max_fails, fail_timeout …) except
    ``resolve``, which needs Docker's DNS and a newer nginx than Debian's.
    """
    servers = _marked(template, "upstream servers")
    first = re.search(r"^\s*server\s+\S+(.*);", servers.group(2), re.MULTILINE)
    if first is None:
        raise ValueError(f"{NGINX_CONF} has no server line in its upstream servers block")
    params = " ".join(p for p in first.group(1).split() if p != "resolve")
    indent = servers.group(1)
    lines = "".join(f"{indent}server {address} {params};\n" for address in upstreams)
    text = template[: servers.start(2)] + lines + template[servers.end(2) :]
    where = _marked(text, "listen")
    return text[: where.start(2)] + f"{where.group(1)}listen {listen};\n" + text[where.end(2) :]


def nginx_binary() -> str:
    """Debian's nginx lives in /usr/sbin, which a non-root PATH may leave out."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    return found if found is not None else require_binary("nginx")  # skips, or fails under TICKER_TEST_STRICT


class Balancer(WebService):
    """nginx (not daemonised) on a free port of 127.0.0.1, proxying to ``upstreams`` ("host:port").

    Everything it writes (rendered config, pid, temp files) stays in ``directory``; its error and access logs
    go to ``directory/nginx.log``. It never reads /etc/nginx or binds port 80.
    """

    def __init__(self, directory: Path, upstreams: Sequence[str] = (), *, port: int | None = None) -> None:
        super().__init__(directory / "nginx.log", port=port, ready_timeout=10.0)
        self.directory = directory
        self.upstreams = list(upstreams)

    @property
    def config_path(self) -> Path:
        return self.directory / "nginx.conf"

    def start(self) -> Self:
        if not self.upstreams:
            raise ValueError("a balancer needs at least one upstream")
        self.directory.mkdir(parents=True, exist_ok=True)
        rendered = render_config(NGINX_CONF.read_text(), self.upstreams, f"{HOST}:{self.port}")
        self.config_path.write_text(rendered)
        return super().start()

    def command(self) -> list[str]:
        # As root, nginx's workers would otherwise run as `nobody`, who cannot enter pytest's private tmp dirs.
        user = " user root;" if os.geteuid() == 0 else ""
        return [
            nginx_binary(),
            "-p",
            f"{self.directory}/",
            "-c",
            str(self.config_path),
            "-e",
            "stderr",
            "-g",
            f"daemon off;{user}",
        ]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1):
                return True
        except OSError:
            return False
