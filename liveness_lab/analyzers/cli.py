"""The ``liveness-lab detect`` command: the faces of one image, printed as Rekognition prints them.

``liveness-lab detect IMAGE [--analyzer local|rekognition] [--landmarks 68|5]``
prints ``{"FaceDetails": [...]}`` indented by 4 spaces, like
``aws rekognition detect-faces --attributes ALL``, so the two outputs can be
compared with a plain diff. The main CLI adds the command with
:func:`add_detect_command`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AnalyzerUnavailableError, InvalidImageError, LivenessLabError
from ..faces import faces_to_rekognition

__all__ = ["add_detect_command", "run_detect"]


def add_detect_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``detect`` subcommand to an ``argparse`` subparsers object; returns its parser.

    The parser's defaults set ``func`` to :func:`run_detect`, which returns the
    exit code.
    """
    p = subparsers.add_parser(
        "detect", help="detect the faces of one image and print them as Rekognition JSON",
        description="Print {\"FaceDetails\": [...]} for one JPEG or PNG image, in the shape "
                    "and layout of `aws rekognition detect-faces --attributes ALL`.")
    p.add_argument("image", metavar="IMAGE", help="JPEG or PNG file")
    p.add_argument("--analyzer", default="local",
                   help="face analyzer: local (default, offline) or rekognition (needs AWS "
                        "credentials)")
    p.add_argument("--landmarks", choices=["68", "5"], default=None,
                   help="local analyzer landmark model (68, default: all fields, "
                        "non-commercial model licence; 5: licence-clean, fewer fields)")
    p.set_defaults(func=run_detect)
    return p


def _fail(message: str, code: int) -> int:
    print(f"liveness-lab detect: error: {message}", file=sys.stderr)
    return code


def run_detect(args: argparse.Namespace) -> int:
    """Run ``detect``: 0 on success (even with no face), 2 for a bad image or usage,
    1 when the analyzer cannot run here."""
    from . import create_analyzer, image_analyzer_names

    name = args.analyzer.strip().lower()
    usable = image_analyzer_names()
    if name not in usable:
        return _fail(f"unknown analyzer {args.analyzer!r}; use one of: {', '.join(usable)}", 2)
    options: dict[str, Any] = {}
    if args.landmarks is not None:
        if name != "local":
            return _fail("--landmarks applies to the local analyzer only", 2)
        options["landmarks"] = args.landmarks
    try:
        data = Path(args.image).read_bytes()
    except OSError as e:
        return _fail(f"cannot read {args.image}: {e.strerror or e}", 2)
    try:
        with create_analyzer(name, **options) as analyzer:
            faces = analyzer.analyze(data)
    except InvalidImageError as e:
        return _fail(f"{args.image}: {e}", 2)
    except AnalyzerUnavailableError as e:
        return _fail(str(e), 1)
    except LivenessLabError as e:
        return _fail(f"{args.image}: {e}", 1)
    print(json.dumps({"FaceDetails": faces_to_rekognition(faces)}, indent=4))
    return 0
