from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from webapp.security import SecurityHeaders


def app(hsts: bool) -> Starlette:
    async def hello(request):
        return PlainTextResponse("hi")

    return Starlette(
        routes=[Route("/page", hello), Route("/static/app.css", hello)],
        middleware=[Middleware(SecurityHeaders, hsts=hsts)],
    )


def test_pages_get_the_headers_and_are_not_cached():
    with TestClient(app(hsts=False)) as client:
        response = client.get("/page")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers


def test_static_files_may_be_cached_and_hsts_behind_https():
    with TestClient(app(hsts=True)) as client:
        response = client.get("/static/app.css")
    assert response.headers["cache-control"].startswith("public")
    assert "max-age" in response.headers["strict-transport-security"]
