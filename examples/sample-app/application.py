"""A minimal WSGI web application: ``/`` says hello, ``/health`` reports status and build.

Standard library only. Elastic Beanstalk runs it with gunicorn (see ``Procfile``);
``python application.py`` serves it locally on port 8000.
"""
import json
import os
from pathlib import Path

BUILD_INFO = Path(__file__).with_name("build-info.json")


def build_info():
    """What the build recorded (commit, build id); empty when running from source."""
    try:
        return json.loads(BUILD_INFO.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _respond(start_response, status, body, content_type):
    data = body.encode("utf-8")
    start_response(status, [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ])
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        return _respond(start_response, "405 Method Not Allowed", "method not allowed\n", "text/plain")
    if path == "/health":
        info = build_info()
        body = json.dumps({"status": "ok", "commit": info.get("commit", "local")})
        return _respond(start_response, "200 OK", body, "application/json")
    if path == "/":
        name = os.environ.get("APP_NAME", "sample app")
        return _respond(start_response, "200 OK", f"Hello from {name}\n", "text/plain; charset=utf-8")
    return _respond(start_response, "404 Not Found", "not found\n", "text/plain")


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    port = int(os.environ.get("PORT", "8000"))
    with make_server("127.0.0.1", port, application) as server:
        print(f"serving on http://127.0.0.1:{port}")
        server.serve_forever()
