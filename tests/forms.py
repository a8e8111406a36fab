"""A scripted browser without JavaScript: it follows redirects and submits the forms it is shown."""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
import requests


def form_fields(html: str, form_id: str | None = None) -> tuple[str, str, dict[str, str]]:
    """The form's method, action and the values a browser would send as shown."""
    document = lxml.html.fromstring(html)
    forms = document.xpath(f'//form[@id="{form_id}"]' if form_id else "//form")
    assert forms, "the page shows no form"
    form = forms[0]
    fields = {}
    for element in form.xpath(".//input[@name]"):
        kind = (element.get("type") or "text").lower()
        if kind in ("radio", "checkbox") and element.get("checked") is None:
            continue
        fields[element.get("name")] = element.get("value") or ""
    return (form.get("method") or "get").lower(), form.get("action") or "", fields


def submit(session: requests.Session, response: requests.Response, form_id: str | None = None,
           **choices: str) -> requests.Response:
    method, action, fields = form_fields(response.text, form_id)
    fields.update(choices)
    url = urljoin(response.url, action)
    if method == "post":
        return session.post(url, data=fields, timeout=10)
    return session.get(url, params=fields, timeout=10)


def follow(session: requests.Session, response: requests.Response,
           element_id: str) -> requests.Response:
    """The link with `element_id` on the page, followed as a browser does."""
    return session.get(link(response, element_id), timeout=10)


def link(response: requests.Response, element_id: str) -> str:
    document = lxml.html.fromstring(response.text)
    found = document.xpath(f'//*[@id="{element_id}"]')
    assert found, f"no element with id {element_id}"
    return urljoin(response.url, found[0].get("href"))
