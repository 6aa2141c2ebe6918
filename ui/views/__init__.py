"""The app's views, one module each. A view module defines TITLE and ID (its tab) and render(page),
which lays the view out and wires it; app.py lists the views in the order of their tabs."""
