"""An independent simulator of people, cameras and presentation attacks (``bench.sim2``).

Written from physiology, camera facts and the documented challenge protocols - not from
``liveness_lab.synth`` - so that accuracy claims can be checked on sessions the system's own
simulator did not produce. It uses liveness-lab only for the challenge params generators.
Faces carry DetectFaces evidence only (no ``LivenessLab`` extension). See
``docs/independent-simulation.md``.

    python -m bench.sim2 --out DIR --types NOSE,POSE --sessions-per-class 100 --seed 0 \\
        --condition fps=5..30
"""

from .dataset import CONDITION_KEYS, PROTOCOLS, generate_dataset, generate_session, parse_conditions
from .species import SPECIES, species_for

__all__ = ["CONDITION_KEYS", "PROTOCOLS", "SPECIES", "generate_dataset", "generate_session",
           "parse_conditions", "species_for"]
