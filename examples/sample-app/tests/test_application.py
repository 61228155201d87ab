import json
from wsgiref.util import setup_testing_defaults

import application


def call(path, method="GET"):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, headers):
        captured["status"], captured["headers"] = status, dict(headers)

    body = b"".join(application.application(environ, start_response)).decode()
    return captured["status"], captured["headers"], body


def test_health_reports_ok_as_json():
    status, headers, body = call("/health")
    assert status == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == "ok"


def test_health_reports_the_build_commit(tmp_path, monkeypatch):
    info = tmp_path / "build-info.json"
    info.write_text(json.dumps({"commit": "abc123"}))
    monkeypatch.setattr(application, "BUILD_INFO", info)
    assert json.loads(call("/health")[2])["commit"] == "abc123"


def test_root_says_hello(monkeypatch):
    monkeypatch.setenv("APP_NAME", "shop")
    status, _, body = call("/")
    assert status == "200 OK" and body == "Hello from shop\n"


def test_unknown_path_is_404_and_writes_are_refused():
    assert call("/nope")[0] == "404 Not Found"
    assert call("/health", method="POST")[0] == "405 Method Not Allowed"
