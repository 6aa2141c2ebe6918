"""The explorer's UI pieces: shared state (state.py), event handlers (views.py) and words (texts.py).

app.py lays them out; nothing here holds ML logic, which lives in vae_core.
"""
