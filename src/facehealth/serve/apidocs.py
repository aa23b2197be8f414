"""The API reference at ``/docs``: the OpenAPI document rendered as plain HTML on the server.

FastAPI's interactive pages load Swagger UI or ReDoc from a CDN. The service must work offline and
keeps a strict same-origin content policy, so it renders the same document itself: every route with
its parameters, request body and responses, then every schema. ``/openapi.json`` stays the
machine-readable source for clients and code generators.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_openapi"]

_METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    """A short type name: a $ref's schema name, array of X, or one of anyOf's types."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(escape(repr(v)) for v in schema["enum"])
    return escape(str(schema.get("type", "any")))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    parts = [f'<section class="op"><h3><code>{method.upper()} {escape(path)}</code></h3>']
    for field in ("summary", "description"):
        if op.get(field):
            parts.append(f"<p>{escape(op[field])}</p>")
    if op.get("security"):  # FastAPI lists the bearer scheme of every route that needs a token
        parts.append("<p>Needs a bearer access token.</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{_type(p.get('schema', {}))}</td><td>{'yes' if p.get('required') else 'no'}</td></tr>"
            for p in params
        )
        head = "<tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>"
        parts.append(f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>")
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        parts.append(f"<p>Request body ({escape(media)}): {_type(content.get('schema', {}))}</p>")
    responses = ", ".join(
        f"{escape(code)} {escape(r.get('description', ''))}" for code, r in op.get("responses", {}).items()
    )
    parts.append(f"<p>Responses: {responses}</p></section>")
    return "".join(parts)


def _schema(name: str, schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(prop)}</code></td><td>{_type(s)}</td><td>{'yes' if prop in required else 'no'}</td>"
        "</tr>"
        for prop, s in schema.get("properties", {}).items()
    )
    table = f"<table><thead><tr><th>field</th><th>type</th><th>required</th></tr></thead><tbody>{rows}</tbody></table>"
    return f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>{table if rows else ""}</section>'


def render_openapi(spec: dict[str, Any]) -> str:
    """One self-contained HTML page (the site's own stylesheet only) for an OpenAPI 3 document."""
    info = spec.get("info", {})
    ops = [
        _operation(path, method, item[method])
        for path, item in spec.get("paths", {}).items()
        for method in _METHODS
        if method in item
    ]
    schemas = [_schema(n, s) for n, s in spec.get("components", {}).get("schemas", {}).items()]
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title} API</title><link rel="stylesheet" href="/static/style.css"></head><body><main>'
        f"<h1>{title} API</h1><p>{escape(info.get('summary', ''))} The machine-readable document is "
        '<a href="/openapi.json">/openapi.json</a>; the live camera WebSocket (<code>/api/live</code>) '
        "is described in <code>facehealth.serve.live</code>.</p>"
        f"<h2>Routes</h2>{''.join(ops)}<h2>Schemas</h2>{''.join(schemas)}</main></body></html>"
    )
