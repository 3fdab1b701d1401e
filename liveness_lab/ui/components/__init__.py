"""Streamlit custom components of the studio (static HTML / JavaScript, no build step)."""
