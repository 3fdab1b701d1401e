"""verify_session(trace=False) decides exactly as the traced run, without trace rows."""

from __future__ import annotations

import dataclasses

import pytest

from liveness_lab.challenges import CHALLENGE_SUCCESS, STATE_CONTINUE, ChallengeType, Continue
from liveness_lab.challenges.framework import Next, Success
from liveness_lab.config import resolve_configs
from liveness_lab.errors import ChallengeDefinitionError
from liveness_lab.sessions import iter_dataset
from liveness_lab.verify import run_challenge, verify_session


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    from liveness_lab.synth.traces import generate_dataset
    out = {}
    for profile in ("seed", "recommended"):
        ds = generate_dataset(tmp_path_factory.mktemp(profile) / "ds", sessions_per_class=6,
                              seed=11, profile=profile)
        out[profile] = list(iter_dataset(ds))
    return out


def _without_trace(v):
    return dataclasses.replace(v, trace=None)


@pytest.mark.parametrize("recorded_against", ["seed", "recommended"])
@pytest.mark.parametrize("profile", ["seed", "recommended"])
def test_untraced_verdicts_equal_traced_ones(sessions, recorded_against, profile):
    configs = resolve_configs(profile)
    n_types = set()
    for s in sessions[recorded_against]:
        traced = verify_session(s, configs=configs)
        untraced = verify_session(s, configs=configs, trace=False)
        assert _without_trace(untraced) == _without_trace(traced), s.id
        assert len(untraced.trace) == 0 and len(traced.trace) > 0
        n_types.add(s.challenge_type)
    assert len(n_types) >= 2


def _machine():
    ctype = ChallengeType("TRACE_T")

    @ctype.params
    def params(meta):
        return {}

    @ctype.state(first=True, next_state="second", timeout=1)
    def first(params, frame, context):
        context.record(seen=frame.index)
        return Next() if frame.timestamp >= 200 else STATE_CONTINUE

    @ctype.state(next_state="second")
    def second(params, frame, context):
        context.score = frame.index
        if frame.faces:
            raise RuntimeError("boom")
        return Continue("second.wait") if frame.timestamp < 900 else CHALLENGE_SUCCESS

    return ctype


@pytest.mark.parametrize("timestamps,faces_at", [
    ([0, 100, 200, 300, 1000, 1100], ()),       # success after NEXT and a self-loop
    ([0, 1500], ()),                             # timeout of the first state
    ([0, 200, 300], (2,)),                       # a state raising: state_error
    ([0, 100], ()),                              # no decision
    ([], ()),                                    # no frames
])
def test_run_challenge_untraced_matches_traced_on_edge_cases(timestamps, faces_at):
    from builders import make_face
    ctype = _machine()
    frames = [(t, (make_face(),) if i in faces_at else ()) for i, t in enumerate(timestamps)]
    a = run_challenge(ctype, {}, frames)
    b = run_challenge(ctype, {}, frames, trace=False)
    assert _without_trace(a) == _without_trace(b)
    assert a.frames_used == b.frames_used


def test_untraced_run_still_rejects_a_bad_return_value():
    ctype = ChallengeType("BAD_T")
    ctype.params(lambda meta: {})
    ctype.state(first=True)(lambda params, frame, context: "yes")
    with pytest.raises(ChallengeDefinitionError, match="returned 'yes'"):
        run_challenge(ctype, {}, [(0, ())], trace=False)


def test_states_with_fewer_arguments_still_work_untraced():
    ctype = ChallengeType("FEW_T")
    ctype.params(lambda: {})
    ctype.state(first=True, next_state="two")(lambda: Next())
    ctype.state(name="two")(lambda params, frame: Success("ok"))
    v = run_challenge(ctype, {}, [(0, ())], trace=False)
    assert v.success and v.code == "ok"
