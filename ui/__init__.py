"""The explorer's UI on top of vae_core: one module per view (views/), the frame they sit in (page.py),
what several views use (common.py, state.py, figures.py) and the plain API for scripts (api.py).

Nothing here holds ML logic, which lives in vae_core.
"""
