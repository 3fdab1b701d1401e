"""Deployment path: the CloudFormation/SAM template passes cfn-lint, the Lambda entry point
answers API Gateway events, and the Dockerfile's command exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from svc_helpers import REPO

from liveness_lab.service import api


def test_template_passes_cfn_lint():
    exe = shutil.which("cfn-lint", path=str(REPO / ".venv" / "bin")) or shutil.which("cfn-lint")
    cmd = [exe] if exe else [sys.executable, "-m", "cfnlint"]
    result = subprocess.run([*cmd, str(REPO / "deploy" / "template.yaml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_wires_every_aws_piece():
    text = (REPO / "deploy" / "template.yaml").read_text()
    for needle in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
                   "rekognition:DetectFaces", "LIVENESS_S3_EXPECTED_BUCKET_OWNER",
                   "AWS::Serverless::HttpApi", "TimeToLiveSpecification"):
        assert needle in text


def http_api_event(method, path, body=None, headers=None):
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", **(headers or {})},
            "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "198.51.100.7", "userAgent": "test"},
                               "requestId": "r-1", "stage": "$default"},
            "body": None if body is None else json.dumps(body), "isBase64Encoded": False}


def test_lambda_handler_serves_api_gateway_events(tmp_path, monkeypatch):
    for key in [k for k in list(__import__("os").environ) if k.startswith("LIVENESS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LIVENESS_ENV", "test")
    monkeypatch.setenv("LIVENESS_ANALYZER", "recorded")
    monkeypatch.setenv("LIVENESS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(api, "_LAMBDA_HANDLER", None)
    health = api.lambda_handler(http_api_event("GET", "/health"), None)
    assert health["statusCode"] == 200 and json.loads(health["body"])["status"] == "ok"
    created = api.lambda_handler(http_api_event("POST", "/challenge",
                                                {"imageWidth": 640, "imageHeight": 480}), None)
    assert created["statusCode"] == 200
    ch = json.loads(created["body"])
    verified = api.lambda_handler(http_api_event("POST", f"/challenge/{ch['id']}/verify",
                                                 {"token": ch["token"]}), None)
    assert json.loads(verified["body"]) == {"success": False}
    bad = api.lambda_handler(http_api_event("POST", "/challenge", {"imageWidth": 1}), None)
    assert bad["statusCode"] == 400
    api._LAMBDA_HANDLER.app.state.service.close()


@pytest.mark.parametrize("target", ["server", "lambda"])
def test_dockerfile_targets_point_at_real_entry_points(target):
    text = (REPO / "deploy" / "Dockerfile").read_text()
    stage = text.split(f" AS {target}")[1].split("\nFROM ")[0]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", stage, re.M).group(1))
    if target == "server":
        assert cmd[:3] == ["python", "-m", "liveness_lab.service.cli"]
        result = subprocess.run([sys.executable, *cmd[1:], "--help"], capture_output=True,
                                text=True, cwd=REPO, timeout=120)
        assert result.returncode == 0 and "--port" in result.stdout
    else:
        module, _, name = cmd[0].rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[name]), name))
