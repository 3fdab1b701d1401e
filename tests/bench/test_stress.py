"""The stress bench: conditions reach both simulators, tallies count every session, the aim
column is computed from the worst condition."""

from __future__ import annotations

import json

import pandas as pd

from bench.bench_stress import POINTS, markdown, run, split_unseen_second_faces, tally, worst
from builders import NOSE_PARAMS, T0, make_face, make_session
from liveness_lab.sessions import iter_dataset, read_manifest, write_dataset


def test_each_condition_reaches_both_simulators_and_every_session_is_counted(tmp_path):
    points = [p for p in POINTS if p.key in ("drawn", "fps5")]
    data = run(tmp_path, spc=1, seed=2, simulators=("ours", "sim2"), types=("HEAD_TURN",),
               points=points)
    for simulator in ("ours", "sim2"):
        for point in ("drawn", "fps5"):
            ds = tmp_path / f"{simulator}-{point}"
            counted = sum(c[1] for c in data["tallies"][simulator][point]["HEAD_TURN"].values())
            assert counted == len(read_manifest(ds))
        slow = list(iter_dataset(tmp_path / f"{simulator}-fps5"))
        for s in slow:  # both simulators filmed these at 5 fps
            gaps = [b.timestamp - a.timestamp for a, b in zip(s.frames, s.frames[1:])]
            assert sorted(gaps)[len(gaps) // 2] > 150, (simulator, s.session_id)
    assert json.loads(json.dumps(data)) == data


def test_tally_counts_rejections_for_bona_fide_and_acceptances_for_attacks():
    df = pd.DataFrame({"challenge_type": ["NOSE"] * 5,
                       "label": ["bona_fide", "bona_fide", "attack", "attack", "attack"],
                       "pai_species": ["", "", "print_static", "print_static", "face_swap"],
                       "success": [True, False, True, False, True]})
    assert tally(df) == {"NOSE": {"bona_fide": [1, 2], "print_static": [1, 2],
                                  "face_swap": [1, 1]}}


def test_the_aim_column_judges_the_worst_condition():
    data = {"profile": "rekognition", "sessions_per_class": 100, "seed": 0,
            "points": {"a": "A", "b": "B"},
            "tallies": {"ours": {"a": {"BLINK": {"bona_fide": [1, 100], "video_replay": [0, 100],
                                                 "face_swap": [40, 100]}},
                                 "b": {"BLINK": {"bona_fide": [9, 100], "video_replay": [1, 100],
                                                 "face_swap": [60, 100]}}}}}
    assert worst(data["tallies"]["ours"], "BLINK", "bona_fide") == ("b", 9, 100)
    text = markdown(data, "cmd")
    # pooled 10/200 = 5 %, but the worst condition (9 %) misses the aim
    assert "| BLINK | BPCER | 5.0 % [2.7, 9.0] (10/200) | 9 % (9/100) at b | no |" in text
    assert "| BLINK | APCER video_replay | 0.5 %" in text and "at b | yes |" in text
    assert "| BLINK | APCER face_swap | 50.0 %" in text and "out of reach" in text


def test_blink_window_replay_rewrites_the_window_the_params_tell(tmp_path, capsys):
    """bench/blink_window_replay.py: a window no human meets (150-151 ms) rejects every live
    session; the profiles' window passes most; attacks are counted as acceptances."""
    from bench.blink_window_replay import main as window_replay
    from liveness_lab.synth.traces import generate_dataset

    ds = tmp_path / "ours-blink"
    generate_dataset(ds, sessions_per_class=4, seed=3, challenge_types=["BLINK"],
                     profile="rekognition")

    def rows(window: int) -> dict[str, tuple[int, int]]:
        window_replay(["--window-ms", str(window), str(ds)])
        out = {}
        for line in capsys.readouterr().out.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 3 and cells[0] == "ours-blink":
                k, n = cells[2].split("/")
                out[cells[1]] = (int(k), int(n))
        return out

    tight, told = rows(151), rows(1500)
    assert tight["bona_fide"] == (4, 4)
    assert told["bona_fide"][1] == 4 and told["bona_fide"][0] <= 1
    assert set(told) == set(tight) and len(told) > 1


def test_set_replays_the_same_sessions_under_a_changed_rule(tmp_path, capsys):
    from bench.bench_stress import main
    points = [p for p in POINTS if p.key == "drawn"]
    base = run(tmp_path, spc=2, seed=3, simulators=("ours",), types=("HEAD_TURN",),
               points=points)
    # a LEFT/RIGHT turn that must reach 89 degrees: no bona fide session passes (same datasets)
    strict = run(tmp_path, spc=2, seed=3, simulators=("ours",), types=("HEAD_TURN",),
                 points=points, sets=["head_turn.turn_min_yaw=89"])
    bona = [d["tallies"]["ours"]["drawn"]["HEAD_TURN"]["bona_fide"] for d in (base, strict)]
    assert bona[1] == [bona[1][1], bona[1][1]] and bona[0][0] < bona[0][1]
    assert strict["sets"] == ["head_turn.turn_min_yaw=89"]
    assert "with `head_turn.turn_min_yaw=89`" in markdown(strict, "cmd")
    assert main(["--out", str(tmp_path), "--set", "head_turn.nope=1"]) == 2
    assert "bad --set" in capsys.readouterr().err


def test_second_faces_that_never_reach_a_frame_are_counted_apart(tmp_path):
    """A ``multiple_faces`` session whose frames all show one face holds no attack evidence:
    it is tallied as ``multiple_faces_after_last_frame`` (out of reach), read from the frames."""
    one, other = make_face(), make_face(box=(0.02, 0.2, 0.2, 0.4))
    sessions = [make_session("NOSE", NOSE_PARAMS, [(T0, [one]), (T0 + 100, [one, other])],
                             sid="seen", label="attack", species="multiple_faces"),
                make_session("NOSE", NOSE_PARAMS, [(T0, [one]), (T0 + 100, [one])],
                             sid="unseen", label="attack", species="multiple_faces"),
                make_session("NOSE", NOSE_PARAMS, [(T0, [one])], sid="live")]
    ds = write_dataset(tmp_path / "ds", sessions)
    df = pd.DataFrame({"session_id": ["seen", "unseen", "live"], "challenge_type": ["NOSE"] * 3,
                       "label": ["attack", "attack", "bona_fide"],
                       "pai_species": ["multiple_faces", "multiple_faces", ""],
                       "success": [True, True, True]})
    assert tally(split_unseen_second_faces(df, ds)) == {"NOSE": {
        "bona_fide": [0, 1], "multiple_faces": [1, 1], "multiple_faces_after_last_frame": [1, 1]}}
    assert "multiple_faces_after_last_frame" in markdown(
        {"profile": "p", "sessions_per_class": 1, "seed": 0, "points": {"a": "A"},
         "tallies": {"sim2": {"a": tally(split_unseen_second_faces(df, ds))}}}, "cmd")
