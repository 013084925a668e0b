"""A real Prometheus on loopback (Debian's `prometheus` package) scraping nodes, and its HTTP query API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.services import HOST, ChildProcess, answers_200, require_binary


class PrometheusServer(ChildProcess):
    """Prometheus with a config written for the test: each job scrapes its targets' /metrics every second with
    the bearer token. Its data lives in `directory` and goes with it."""

    def __init__(self, directory: Path, jobs: Mapping[str, Sequence[str]], token: str) -> None:
        super().__init__(directory / "prometheus.log", ready_timeout=60.0)
        self.directory = directory
        self.binary = require_binary("prometheus")
        directory.mkdir(parents=True, exist_ok=True)
        scrape = [
            {
                "job_name": job,
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials": token},
                "static_configs": [{"targets": list(targets)}],
            }
            for job, targets in jobs.items()
        ]
        # JSON is YAML: no YAML library needed to write the config.
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": scrape}
        (directory / "prometheus.yml").write_text(json.dumps(config, indent=1))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--log.level=warn",
        ]

    def is_ready(self) -> bool:
        return answers_200(self.port, "/-/ready")

    async def query(self, expression: str) -> dict[str, float]:
        """An instant query: each series' value, keyed by its labels (``job=…,way=…``) or "" for a bare number."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10, trust_env=False) as client:
            answer: dict[str, Any] = (await client.get("/api/v1/query", params={"query": expression})).json()
        assert answer["status"] == "success", answer
        found = {}
        for series in answer["data"]["result"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(series["metric"].items()))
            found[labels] = float(series["value"][1])
        return found
