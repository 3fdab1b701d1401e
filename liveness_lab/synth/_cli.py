"""The simulator's commands: ``liveness-lab synth`` (a trace-level dataset) and
``liveness-lab render-session`` (a rendered NOSE session as JPEG frames and/or a video)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_synth_command", "run_synth_command", "add_render_command", "cmd_render_session"]

_ARTIFACTS = ("none", "print", "screen")


def add_render_command(subparsers: Any) -> None:
    """Add the ``render-session`` subcommand to an ``argparse`` subparsers object."""
    from .render import MODES, PHOTO_NAMES

    p = subparsers.add_parser(
        "render-session",
        help="render a synthetic NOSE session from a real photo, shipped or your own (frames + "
             "session JSON, optionally a .y4m/.mjpeg fake-webcam video)",
        description="Render a NOSE challenge session: a 2.5D head turn (bona fide stand-in) "
                    "or a moved / tilted / rolled / static photo (presentation attacks). "
                    "Writes OUT_DIR/SESSION_ID/session.json and frames/*.jpg without faces "
                    "(run `liveness-lab analyze` next).")
    p.add_argument("out_dir", help="output folder")
    p.add_argument("--mode", choices=MODES, default="head_turn",
                   help="head_turn: the photo's head turned in 2.5D towards the NOSE target (a "
                        "bona fide stand-in); photo_*: the photo presented as a sheet, moved, "
                        "tilted, rolled or held still (attacks). Default: %(default)s")
    p.add_argument("--photo", default="grace_hopper", metavar="PHOTO",
                   help=f"{' or '.join(PHOTO_NAMES)} (shipped in installed packages), or the "
                        "path of your own image file with one face (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the NOSE params, tremor, background and noise")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10)")
    p.add_argument("--duration", type=float, default=2.5, help="seconds (default 2.5)")
    p.add_argument("--image-width", type=int, default=640, help="frame width, pixels (default 640)")
    p.add_argument("--image-height", type=int, default=480,
                   help="frame height, pixels (default 480)")
    p.add_argument("--params", help="JSON file with NOSE params (default: drawn from --seed)")
    p.add_argument("--artifacts", choices=_ARTIFACTS, default="none",
                   help="print / screen artifacts of the presented photo (photo_* modes)")
    p.add_argument("--session-id", help="default: <mode>-<photo>-<seed>")
    p.add_argument("--y4m", help="also write the frames as a .y4m video here")
    p.add_argument("--mjpeg", help="also write the frames as a .mjpeg video here")
    p.add_argument("--no-images", action="store_true",
                   help="write only the video file(s), no session folder")
    p.set_defaults(func=cmd_render_session)


def cmd_render_session(args: argparse.Namespace) -> int:
    """Handler of ``render-session``; prints what it wrote. Bad input: message, exit code 2."""
    import sys

    try:
        return _render_session(args)
    except (ValueError, OSError) as e:
        print(f"liveness-lab render-session: error: {e}", file=sys.stderr)
        return 2


def _read_params(path: str) -> dict[str, Any]:
    """NOSE params from a JSON file (an object, or a session document's challenge); every
    error names the file."""
    from ..challenges.registry import default_registry
    from ..errors import ParamsError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"--params {path}: cannot read the file ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ValueError(f"--params {path}: the file is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"--params {path}: invalid JSON at line {e.lineno} column {e.colno}: "
                         f"{e.msg}") from None
    if isinstance(doc, dict) and isinstance(doc.get("challenge"), dict):
        doc = doc["challenge"].get("params")  # a whole session document
    if not isinstance(doc, dict):
        raise ValueError(f"--params {path}: must hold a JSON object of NOSE params, got "
                         f"{type(doc).__name__}")
    try:
        default_registry().get("NOSE").check_params(doc)
    except ParamsError as e:
        raise ValueError(f"--params {path}: {e}") from None
    return doc


def _render_session(args: argparse.Namespace) -> int:
    from ..challenges import SeededRandom
    from ..challenges.registry import default_registry
    from .render import (DEFAULT_PAI_SPECIES, PHOTO_NAMES, Artifacts, plan_nose_session,
                         render_plan, write_session_images)
    from .video import write_mjpeg, write_y4m

    if args.no_images and not (args.y4m or args.mjpeg):
        raise ValueError("--no-images needs --y4m or --mjpeg, otherwise nothing is written")
    if args.params:
        params = _read_params(args.params)
    else:
        nose = default_registry().get("NOSE")
        params = nose.generate_params({"imageWidth": args.image_width,
                                       "imageHeight": args.image_height},
                                      rng=SeededRandom(args.seed))
    artifacts = {"none": None, "print": Artifacts.printed(),
                 "screen": Artifacts.screen()}[args.artifacts]
    plan = plan_nose_session(params, photo=args.photo, mode=args.mode, seed=args.seed,
                             fps=args.fps, duration_s=args.duration, artifacts=artifacts)
    frames = render_plan(plan)
    if not args.no_images:
        species = DEFAULT_PAI_SPECIES[args.mode]
        if species is not None and args.artifacts == "screen":
            species = species.replace("print_", "screen_")
        photo_name = args.photo if args.photo in PHOTO_NAMES else Path(args.photo).stem
        sid = args.session_id or f"{args.mode}-{photo_name}-{args.seed}"
        meta = plan.metadata()
        meta["artifacts"] = args.artifacts
        session = write_session_images(args.out_dir, sid, {"type": "NOSE", "params": params},
                                       frames, "bona_fide" if species is None else "attack",
                                       species, metadata=meta)
        print(session.source)
    images = [f for _, f in frames]
    if args.y4m:
        print(write_y4m(args.y4m, images, args.fps))
    if args.mjpeg:
        print(write_mjpeg(args.mjpeg, images, args.fps))
    return 0


def add_synth_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``synth --out DIR --sessions-per-class N --seed S [--profile P] [--types ...]``."""
    p = subparsers.add_parser(
        "synth", help="generate a synthetic trace-level dataset (no images)",
        description="Simulate bona fide and attack sessions as Rekognition-shaped face "
                    "detections and write them as a dataset (manifest.csv + session JSON).")
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--sessions-per-class", type=int, default=50,
                   help="bona fide sessions per type and attacks per species (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--profile", default=None,
                   help="the deployment simulated: 'seed' writes the original bench (NOSE, POSE, "
                        "original clients); other profiles every type and species, with the "
                        "simulated face descriptors their identity check needs (never PAD "
                        "scores; default: the default profile)")
    p.add_argument("--types", default=None,
                   help="challenge types, comma-separated (default: the profile's)")
    p.add_argument("--images", type=int, default=0, metavar="N",
                   help="also render N image-level NOSE sessions from the packaged photos "
                        "(frames as JPEG, no faces: run `liveness-lab analyze` or let "
                        "`evaluate` analyze them)")
    p.add_argument("--image-size", default="640x480",
                   help="frame size WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--condition", action="append", default=[], metavar="NAME=VALUE",
                   help="hold a capture condition fixed for every session (repeatable): fps, "
                        "exposure_ms, noise, mount_yaw, mount_pitch, reaction_scale, e.g. "
                        "--condition fps=5 --condition mount_pitch=15")
    p.set_defaults(func=run_synth_command)
    return p


def run_synth_command(args: argparse.Namespace) -> int:
    """Handler of ``synth``: returns the process exit code (0 on success, 2 on bad arguments)."""
    import sys

    from tqdm import tqdm
    try:
        width, height = (int(v) for v in str(args.image_size).lower().split("x"))
    except ValueError:
        print(f"liveness-lab synth: error: --image-size must look like 640x480, got "
              f"{args.image_size!r}", file=sys.stderr)
        return 2
    from ..config import DEFAULT_PROFILE
    from .traces import _bench, _check_out_dir, _normalise_types, dataset_size, generate_dataset
    from ..errors import ConfigError
    profile = getattr(args, "profile", None) or DEFAULT_PROFILE
    try:
        conditions = _conditions(getattr(args, "condition", None) or [])
        bench = _bench(profile)
        types = _normalise_types(getattr(args, "types", None), bench)
        _check_out_dir(Path(args.out))
        total = (dataset_size(args.sessions_per_class, types, profile)
                 if args.sessions_per_class > 0 else 0)
        with tqdm(total=total, unit="session", desc="synth") as bar:
            out = generate_dataset(args.out, sessions_per_class=args.sessions_per_class,
                                   seed=args.seed, challenge_types=types,
                                   image_size=(width, height), progress=bar.update,
                                   profile=profile, conditions=conditions)
        if getattr(args, "images", 0):
            from .render import add_image_sessions
            with tqdm(total=args.images, unit="session", desc="render images") as bar:
                add_image_sessions(out, args.images, seed=args.seed, progress=bar.update)
            total += args.images
    except (ValueError, ConfigError) as e:
        print(f"liveness-lab synth: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {total} sessions to {out}")
    return 0


def _conditions(items: list[str]) -> Any:
    """``--condition NAME=VALUE`` options as :class:`~.conditions.Conditions`."""
    from .conditions import Conditions
    values = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--condition must look like NAME=VALUE (e.g. fps=5), got {item!r}")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--condition {name.strip()} needs a number, got {value!r}") from None
    return Conditions.from_mapping(values)
