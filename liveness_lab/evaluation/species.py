"""What each presentation attack instrument (PAI) species is, for reports an auditor reads.

ISO/IEC 30107-3 asks a test report to describe every PAI species: the instrument, how it
was made, and its attack potential. :data:`PAI_SPECIES` describes the species the
synthetic benchmark writes (``docs/synthetic-traces.md``); a dataset of real captures
passes its own descriptions to the report (``build_report(species=...)``). A species not
described is reported as such, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["PaiSpecies", "PAI_SPECIES", "describe_species"]

_POTENTIALS = ("basic", "enhanced-basic", "moderate", "high", "unknown")


@dataclass(frozen=True)
class PaiSpecies:
    """One PAI species, as a test report describes it.

    Attributes
    ----------
    name:
        The ``pai_species`` value in sessions and results.
    instrument:
        What is presented to the camera.
    how_made:
        How the instrument is made and used.
    attack_potential:
        Effort and expertise (ISO/IEC 30107-3 vocabulary): ``basic``,
        ``enhanced-basic``, ``moderate``, ``high`` or ``unknown``.
    """

    name: str
    instrument: str
    how_made: str
    attack_potential: str = "basic"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a PAI species needs a name")
        if self.attack_potential not in _POTENTIALS:
            raise ValueError(f"attack_potential must be one of {', '.join(_POTENTIALS)}, got "
                             f"{self.attack_potential!r}")


_SIM = "simulated at trace level (Rekognition-shaped faces, no images)"

#: The species of the synthetic benchmark (``liveness_lab.synth.traces``).
PAI_SPECIES: Mapping[str, PaiSpecies] = {s.name: s for s in (
    PaiSpecies("print_static", "printed photo of the victim",
               f"neutral photo held still by hand; {_SIM}"),
    PaiSpecies("print_moved", "printed photo of the victim",
               f"photo translated so its nose reaches the target; {_SIM}"),
    PaiSpecies("print_tilted", "printed photo of the victim",
               f"sheet tilted 15-70 degrees toward the requested side; {_SIM}"),
    PaiSpecies("print_rolled", "printed photo of the victim",
               f"sheet rolled in the image plane about the holding hand; {_SIM}"),
    PaiSpecies("print_random_pose", "printed photo of the victim in one of the 8 poses",
               f"photo chosen at random; {_SIM}"),
    PaiSpecies("print_pose_set", "printed photos of the victim in every pose",
               f"the requested photo swapped in (filmed client: swapped back); {_SIM}",
               "enhanced-basic"),
    PaiSpecies("replay_other_challenge", "screen replay of a bona fide recording",
               f"the victim's own recording made for other challenge params; {_SIM}",
               "enhanced-basic"),
    PaiSpecies("video_replay", "screen replay of a video of the victim",
               f"spontaneous blinks, not made for this challenge; {_SIM}"),
    PaiSpecies("multiple_faces", "the attacker's live face beside the victim's photo",
               f"the photo enters the frame near the first upload; {_SIM}"),
    PaiSpecies("face_swap", "the victim's photo, then the attacker's live face",
               f"photo for the first frames, pulled away, attacker completes the challenge; "
               f"{_SIM}", "enhanced-basic"),
)}


def describe_species(name: str, catalogue: Mapping[str, PaiSpecies] | None = None
                     ) -> PaiSpecies:
    """The description of ``name`` (from ``catalogue``, then :data:`PAI_SPECIES`).

    An unknown species gets a record saying it is not described.

    >>> describe_species("print_static").instrument
    'printed photo of the victim'
    >>> describe_species("latex_mask").attack_potential
    'unknown'
    """
    for cat in (catalogue or {}, PAI_SPECIES):
        if name in cat:
            return cat[name]
    return PaiSpecies(name, "not described", "not described: pass species descriptions to "
                      "the report", "unknown")
