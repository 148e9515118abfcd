"""Console: Envoy serves the campaign managers' web pages (clients/console/) itself.

Each asset is a `direct_response` route whose body Envoy reads from the file when it starts
(restart Envoy to pick up an edited asset: `adplatform stack down && adplatform stack up`).
The pages are public and hold no data; their API calls carry the bearer token, and the JSON
API is on the same origin, so no CORS. Pages have clean paths:

    /console/           campaign table, create form, sign-in
    /console/campaign   one campaign: live KPIs, update and stop forms (?id=<campaign_id>)
    /console/device     device preview: request an ad, send feedback
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.paths import REPO_ROOT
from deploy.stack.errors import StackError

CONSOLE_DIR = REPO_ROOT / "clients" / "console"
PREFIX = "/console/"
PAGES = {
    PREFIX: "index.html",
    f"{PREFIX}campaign": "campaign.html",
    f"{PREFIX}device": "device.html",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# MAX_ASSET_BYTES lifts Envoy's 4 KiB default limit on a direct response body.
MAX_ASSET_BYTES = 1 << 20
# Scripts and styles only from this origin: no inline script can run, even injected.
HEADERS = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def assets(directory: Path = CONSOLE_DIR) -> dict[str, Path]:
    """assets maps each console URL path to its file: the pages, then every script and style."""
    served = {path: directory / name for path, name in PAGES.items()}
    for file in sorted(directory.iterdir()):
        if file.suffix in (".js", ".css"):
            served[f"{PREFIX}{file.name}"] = file
    for file in served.values():
        if not file.is_file():
            raise StackError(f"console asset {file} is missing")
        if file.stat().st_size > MAX_ASSET_BYTES:
            raise StackError(f"console asset {file} is over {MAX_ASSET_BYTES} bytes")
    return served


def _headers(content_type: str) -> list[dict[str, Any]]:
    """_headers are an asset's response headers, replacing any Envoy would set."""
    return [
        {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for key, value in {"content-type": content_type, **HEADERS}.items()
    ]


def routes(directory: Path = CONSOLE_DIR) -> list[dict[str, Any]]:
    """routes answer each console path with its file, and /console with a redirect to /console/."""
    served = [
        {
            "match": {"path": path},
            "direct_response": {"status": 200, "body": {"filename": str(file)}},
            "response_headers_to_add": _headers(CONTENT_TYPES[file.suffix]),
        }
        for path, file in assets(directory).items()
    ]
    redirect = {"match": {"path": PREFIX.rstrip("/")}, "redirect": {"path_redirect": PREFIX}}
    return [redirect, *served]


def reply_mapper() -> dict[str, Any]:
    """reply_mapper keeps a served asset's body as it is.

    Envoy treats a direct response as a local reply, and the listener formats local replies
    as JSON; without this mapper a page would arrive wrapped in {"message": ...}.
    """
    return {
        "filter": {
            "and_filter": {
                "filters": [
                    {
                        "header_filter": {
                            "header": {"name": ":path", "string_match": {"prefix": PREFIX}}
                        }
                    },
                    {
                        "status_code_filter": {
                            "comparison": {
                                "op": "EQ",
                                "value": {"default_value": 200, "runtime_key": "console.ok"},
                            }
                        }
                    },
                ]
            }
        },
        "body_format_override": {"text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"}},
    }
