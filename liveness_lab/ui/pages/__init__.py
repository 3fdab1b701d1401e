"""The studio's pages; each module has a ``render()`` function that ``st.Page`` runs."""
