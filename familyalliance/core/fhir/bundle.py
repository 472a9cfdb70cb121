"""Resources gathered in a FHIR ``Bundle``: a ``collection`` (an export) or a ``searchset`` page (a read API)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from familyalliance.core.fhir.common import resource_url

BUNDLE_TYPES = ("collection", "searchset")


def bundle(
    resources: Iterable[Mapping[str, Any]],
    base_url: str,
    bundle_type: str = "collection",
    *,
    total: int | None = None,
    links: Iterable[Mapping[str, str]] = (),
    matches: Collection[str] | None = None,
    timestamp: str | None = None,
) -> dict:
    """A FHIR R4 Bundle of ``resources``, each entry with its ``fullUrl``.

    A ``searchset`` carries the ``total`` of the search and its paging ``links`` (see
    :func:`paging_links`); its entries are matches, or ``include``s when their resource type
    is not among ``matches``. A ``collection`` has neither (FHIR's bdl-1 and bdl-2). No
    timestamp unless given, so exporting the same data twice gives the same bundle.
    """
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(f"unknown bundle type {bundle_type!r}; choose one of {', '.join(BUNDLE_TYPES)}")
    search = bundle_type == "searchset"
    if not search and (total is not None or links or matches is not None):
        raise ValueError("only a searchset has a total, paging links and search modes")
    entries = []
    for resource in resources:
        entry: dict = {
            "fullUrl": resource_url(base_url, resource["resourceType"], resource["id"]),
            "resource": dict(resource),
        }
        if search:
            included = matches is not None and resource["resourceType"] not in matches
            entry["search"] = {"mode": "include" if included else "match"}
        entries.append(entry)
    made: dict = {"resourceType": "Bundle", "type": bundle_type}
    if timestamp is not None:
        made["timestamp"] = timestamp
    if search:
        made["total"] = len(entries) if total is None else total
        if links:
            made["link"] = [dict(link) for link in links]
    if entries:
        made["entry"] = entries
    return made


def paging_links(url: str, page: int, count: int, total: int) -> list[dict]:
    """A searchset page's links: ``self``, ``first``, ``previous``, ``next`` and ``last`` (pages from 1).

    ``url`` is the search as asked; its ``_page`` and ``_count`` are replaced, other parameters kept.
    """
    if page < 1 or count < 1:
        raise ValueError("pages are numbered from 1 and hold at least one entry")
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("_page", "_count")]
    last = max(1, -(-total // count))

    def at(number: int) -> str:
        return urlunsplit(parts._replace(query=urlencode([*query, ("_count", count), ("_page", number)])))

    links = [{"relation": "self", "url": at(page)}, {"relation": "first", "url": at(1)}]
    if page > 1:
        links.append({"relation": "previous", "url": at(min(page, last + 1) - 1)})
    if page < last:
        links.append({"relation": "next", "url": at(page + 1)})
    links.append({"relation": "last", "url": at(last)})
    return links


def dumps(resource: Mapping[str, Any]) -> str:
    """A resource (or bundle) as FHIR JSON text: UTF-8 as is, keys in the order built."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
