"""The liveness-lab studio: ``streamlit run app.py`` (or ``liveness-lab app``).

This file only assembles the pages; they live in ``liveness_lab/ui/pages/``.
"""

import streamlit as st

from liveness_lab.ui.navigation import configure_page, studio_pages

configure_page()
st.navigation(studio_pages()).run()
