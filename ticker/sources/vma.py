"""Sveriges Radio's VMA API (``https://vmaapi.sr.se/api/v2/alerts``): alerts to the public in CAP's shape,
``{"timestamp": …, "alerts": [{identifier, sent, status, msgType, incidents, info: [{language, event, headline,
description, severity, web, area: [{areaDesc, geocode: [{valueName, value}]}]}]}]}``.

An alert's ``Update`` and ``Cancel`` messages carry new identifiers but the same ``incidents``, so one item per
incident shows the alert as it stands now (changed when updated, no longer highlighted when cancelled). Tests
and exercises (``status`` other than ``Actual``) are not news and are left out.
"""

from __future__ import annotations

from typing import Any

from ticker.sources.found import Found, Unreadable, external_id, json_body, link, listing, mapping, moment, plain

TYPES = {"Alert": "VMA", "Update": "VMA, uppdaterat", "Cancel": "VMA, upphävt"}


def _info(alert: dict[str, Any]) -> dict[str, Any]:
    infos = [i for i in listing(alert.get("info")) if isinstance(i, dict)]
    swedish = [i for i in infos if str(i.get("language", "")).lower().startswith("sv")]
    return (swedish or infos or [{}])[0]


def _areas(info: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for area in listing(info.get("area")):
        names.append(plain(mapping(area).get("areaDesc"), 200))
        names += [plain(mapping(code).get("value"), 20) for code in listing(mapping(area).get("geocode"))]
    return tuple(n for n in names if n)


def parse(body: bytes, url: str) -> list[Found]:
    data = json_body(body)
    alerts = data.get("alerts") if isinstance(data, dict) else None
    if not isinstance(alerts, list):
        raise Unreadable('expected a JSON object with a list of "alerts"')
    latest: dict[str, tuple[str, Found]] = {}  # incident -> (sent, the newest message about it)
    for alert in alerts:
        if not isinstance(alert, dict):
            raise Unreadable("an alert is not a JSON object")
        if alert.get("status") != "Actual":
            continue
        info = _info(alert)
        areas = _areas(info)
        kind = str(alert.get("msgType", "Alert"))
        found = Found(
            external_id=external_id(alert.get("incidents") or alert.get("identifier", "")),
            title=plain(info.get("headline") or info.get("event"), 300) or "VMA",
            summary=plain(info.get("description"), 2000),
            url=link(info.get("web")),
            type=TYPES.get(kind, "VMA"),
            place=plain(", ".join(a for a in areas if not a.isdigit()), 200),
            published_at=moment(alert.get("sent")),
            vma=kind != "Cancel",
            areas=areas,
        )
        sent = str(alert.get("sent", ""))
        if found.external_id not in latest or latest[found.external_id][0] <= sent:
            latest[found.external_id] = (sent, found)
    return [found for _sent, found in latest.values()]
