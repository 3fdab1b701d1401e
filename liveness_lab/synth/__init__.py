"""Synthetic data: trace-level sessions (:mod:`.traces`) and image frames from real photos
(:mod:`.render`, :mod:`.video`). Import the submodules directly; nothing heavy loads here."""
