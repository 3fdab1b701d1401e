"""The challenge service: the AWS Liveness Detection Framework's REST API, hardened.

* :class:`ChallengeService` (``core``) - create / put frame / verify / results,
  independent of HTTP;
* :func:`create_app` (``api``) - the FastAPI application, served by
  ``liveness-lab serve``;
* :class:`LivenessClient` (``client``) - a Python client of the API;
* :class:`Settings` / :func:`get_settings` (``settings``) - every setting, read
  from ``LIVENESS_*`` environment variables;
* ``stores`` - SQLite + local directory by default, DynamoDB + S3 on AWS.

Names are imported on first use, so ``import liveness_lab.service`` loads
neither FastAPI nor boto3. See ``docs/service.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ChallengeService", "create_app", "LivenessClient", "Challenge", "ApiError",
           "Settings", "get_settings", "TokenSigner", "ServiceError"]

_LAZY = {
    "ChallengeService": ".core",
    "create_app": ".api",
    "LivenessClient": ".client",
    "Challenge": ".client",
    "ApiError": ".client",
    "Settings": ".settings",
    "get_settings": ".settings",
    "TokenSigner": ".tokens",
    "ServiceError": ".errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
