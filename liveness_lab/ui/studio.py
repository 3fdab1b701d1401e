"""The studio's entry script inside the package, for installs without the repository's ``app.py``.

``liveness-lab app`` runs the repository's ``app.py`` when the package is used
from a checkout, and this file otherwise; both only assemble the pages.
"""

import streamlit as st

from liveness_lab.ui.navigation import configure_page, studio_pages

configure_page()
st.navigation(studio_pages()).run()
