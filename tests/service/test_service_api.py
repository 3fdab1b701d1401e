"""The REST API: the original contract (bodies, status codes, responses) and the added routes."""

from __future__ import annotations

import json

import pytest
from svc_helpers import TestClient, b64, jpeg, now_ms, simulated_frames, test_settings

from liveness_lab.service.api import create_app
from liveness_lab.service.client import ApiError, LivenessClient

FRAME = jpeg()


@pytest.fixture
def client(tmp_path):
    app = create_app(test_settings(tmp_path, client_challenge_selection=True))
    with TestClient(app) as c:
        yield c


def new(client, ctype="NOSE"):
    r = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480,
                                        "challengeType": ctype})
    assert r.status_code == 200, r.text
    return r.json()


def put(client, ch, ts, data=FRAME, faces=(), **extra):
    body = {"token": ch["token"], "timestamp": ts, "frameBase64": b64(data),
            "faces": [f.to_rekognition() for f in faces], **extra}
    return client.put(f"/challenge/{ch['id']}/frame", json=body)


# -- the original routes, unchanged --------------------------------------------------------------

def test_original_flow_and_exact_responses(client):
    ch = new(client)
    assert set(ch) == {"id", "token", "type", "params"} and ch["type"] == "NOSE"
    for ts, faces in simulated_frames("NOSE", ch["params"], start_ms=now_ms()):
        r = put(client, ch, ts, faces=faces)
        assert r.status_code == 200 and r.json() == {"message": "Frame saved successfully"}
    r = client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
    assert r.status_code == 200 and r.json() == {"success": True}


@pytest.mark.parametrize("body, message", [
    ({"imageHeight": 480}, "Missing imageWidth and imageHeight"),
    ({"imageWidth": "x", "imageHeight": 480}, "Invalid imageWidth"),
    ({"imageWidth": 640, "imageHeight": [480]}, "Invalid imageHeight"),
    ([640, 480], "JSON object"),
    ("text", "JSON object"),
])
def test_create_refusals_are_400(client, body, message):
    r = client.post("/challenge", json=body)
    assert r.status_code == 400 and message in r.json()["message"]


@pytest.mark.parametrize("raw, headers", [
    (b'{"imageWidth": 640,', {"content-type": "application/json"}),
    (b"imageWidth=640&imageHeight=480", {"content-type": "application/x-www-form-urlencoded"}),
    (b"\xff\xfe\x00garbage", {"content-type": "application/json"}),
    (b"", {"content-type": "application/json"}),
    (b"[" * 100000 + b"]" * 100000, {"content-type": "application/json"}),
])
def test_malformed_bodies_and_content_types_are_400(client, raw, headers):
    r = client.post("/challenge", content=raw, headers=headers)
    assert r.status_code in (400, 413) and r.json()["message"]


def test_frame_refusals_follow_the_original(client):
    ch = new(client)
    t = now_ms()
    assert put(client, ch, "soon").status_code == 400
    r = client.put(f"/challenge/{ch['id']}/frame",
                   json={"token": ch["token"], "timestamp": t, "frameBase64": "@@@"})
    assert r.status_code == 400 and r.json()["message"].startswith("Invalid Image")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert put(client, ch, t, data=png).json()["message"] == "Image must be JPEG"
    r = client.put(f"/challenge/{ch['id']}/frame", json={"timestamp": t, "frameBase64": b64(FRAME)})
    assert r.status_code == 401  # no token
    other = new(client)
    assert put(client, other | {"token": ch["token"]}, t).status_code == 401


def test_unknown_challenge_is_404_with_a_valid_token(client, tmp_path):
    ch = new(client)
    client.app.state.service.challenges.delete(ch["id"])
    assert put(client, ch, now_ms()).status_code == 404
    r = client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
    assert r.status_code == 404 and r.json() == {"message": "challenge not found"}


def test_verify_once_then_409_and_frames_after_verify_409(client):
    ch = new(client, "POSE")
    t = now_ms()
    assert put(client, ch, t).status_code == 200
    assert client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]}).json() == \
        {"success": False}
    r = client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
    assert r.status_code == 409 and "single-use" in r.json()["message"]
    r = put(client, ch, t + 50)
    assert r.status_code == 409 and "verified" in r.json()["message"]


def test_bodies_over_the_limit_are_413_before_parsing(tmp_path):
    settings = test_settings(tmp_path, max_frame_bytes=4096, max_json_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        r = client.post("/challenge", content=b"{" + b" " * 5000 + b"}",
                        headers={"content-type": "application/json"})
        assert r.status_code == 413 and "limit" in r.json()["message"]

        def chunks():  # no Content-Length: the stream is counted
            for _ in range(10):
                yield b" " * 1000
        r = client.post("/challenge", content=chunks(),
                        headers={"content-type": "application/json"})
        assert r.status_code == 413
        ch = client.post("/challenge", json={"imageWidth": 64, "imageHeight": 48}).json()
        r = client.put(f"/challenge/{ch['id']}/frame",
                       json={"token": ch["token"], "timestamp": now_ms(),
                             "frameBase64": "A" * (settings.max_frame_request_bytes + 10)})
        assert r.status_code == 413


def test_wrong_methods_and_routes_are_4xx_json(client):
    r = client.get("/challenge")
    assert r.status_code == 405 and r.json()["message"]
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["message"]


# -- added routes ---------------------------------------------------------------------------------

def test_challenge_status_needs_its_token(client):
    ch = new(client)
    assert client.get(f"/challenge/{ch['id']}").status_code == 401
    r = client.get(f"/challenge/{ch['id']}", params={"token": ch["token"]})
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["verdict"] is None
    r = client.get(f"/challenge/{ch['id']}", headers={"X-Challenge-Token": ch["token"]},
                   params={"trace": "false"})
    assert r.json()["trace"] is None


def test_latest_frame_gives_faces_and_the_live_hint(client):
    ch = new(client)
    lc = LivenessClient(http_client=client)
    live = lc.latest_frame(ch["id"], token=ch["token"])
    assert live["frame"] is None and live["state"] is None and live["frameCount"] == 0
    frames = simulated_frames("NOSE", ch["params"], start_ms=now_ms())
    put(client, ch, frames[0][0], faces=frames[0][1])
    live = lc.latest_frame(ch["id"], token=ch["token"])
    assert live["frame"]["timestamp"] == frames[0][0] and len(live["frame"]["faces"]) == 1
    assert live["state"]["name"] and live["state"]["message"] and live["decided"] is False


def test_challenge_types_health_and_openapi(client):
    types = {t["name"]: t for t in client.get("/challenge-types").json()}
    assert {"NOSE", "POSE"} <= set(types) and types["NOSE"]["randomSelection"] is True
    assert types["NOSE"]["config"]["min_dist"] == pytest.approx(0.1)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["analyzer"] == "recorded"
    doc = client.get("/openapi.json").json()
    assert {"/challenge", "/challenge/{challenge_id}/frame", "/challenge/{challenge_id}/verify",
            "/challenge/{challenge_id}", "/challenge/{challenge_id}/frames/latest",
            "/challenge-types", "/health"} <= set(doc["paths"])
    create_body = doc["paths"]["/challenge"]["post"]["requestBody"]["content"]
    assert set(create_body["application/json"]["schema"]["required"]) == {"imageWidth",
                                                                         "imageHeight"}
    assert client.get("/docs").status_code == 200


def test_cors_is_off_by_default_and_configurable(tmp_path):
    with TestClient(create_app(test_settings(tmp_path / "a"))) as client:
        r = client.options("/challenge", headers={"Origin": "https://app.example",
                                                  "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in r.headers
    settings = test_settings(tmp_path / "b", cors_origins=("https://app.example",))
    with TestClient(create_app(settings)) as client:
        r = client.options("/challenge", headers={"Origin": "https://app.example",
                                                  "Access-Control-Request-Method": "POST"})
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = client.options("/challenge", headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "POST"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


def test_python_client_round_trip(client):
    lc = LivenessClient(http_client=client)
    ch = lc.create_challenge(640, 480, challenge_type="NOSE")
    for ts, faces in simulated_frames("NOSE", ch.params, start_ms=now_ms()):
        assert lc.put_frame(ch, ts, FRAME, faces=faces) == "Frame saved successfully"
    assert lc.verify(ch) is True
    assert lc.get_challenge(ch)["success"] is True
    with pytest.raises(ApiError) as e:
        lc.verify(ch)
    assert e.value.status_code == 409
    assert lc.health()["status"] == "ok" and lc.challenge_types()


def test_the_trace_is_plain_json(client):
    ch = new(client)
    for ts, faces in simulated_frames("NOSE", ch["params"], start_ms=now_ms(),
                                      species="print_moved"):
        put(client, ch, ts, faces=faces)
    client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
    r = client.get(f"/challenge/{ch['id']}", params={"token": ch["token"]})
    json.loads(r.text)  # strict JSON: no NaN or Infinity
    assert r.json()["success"] is False and r.json()["reason"]


def test_health_is_503_when_a_store_fails(tmp_path):
    with TestClient(create_app(test_settings(tmp_path))) as client:
        service = client.app.state.service

        def broken():
            raise OSError("disk gone")
        service.frames.ping = broken
        r = client.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        assert "disk gone" in r.json()["problems"][0]
