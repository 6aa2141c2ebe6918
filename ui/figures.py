"""The app's Plotly figures of the latent space and of training, with the page's wording.

Each figure is a plain plotly Figure built from arrays. Point traces carry the test image's index in
`customdata`, which the page's click bridge reads back.

Only the main map's 10,000 dots are drawn with WebGL (in SVG they are slow to draw). A browser gives a
page about 16 WebGL contexts: the main map is one plot, redrawn in place, so it keeps its one set; every
other chart is SVG, so that a long lesson never runs out of them.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from vae_core.images import png_bytes

# Ten colours far apart with normal sight on a washed-out projector and for the common colour-vision
# deficiencies (`scripts/class_colours.py --palette` chose them from well-known palettes: their closest pair is
# ΔE 42 apart, where Okabe-Ito's yellow, orange and vermillion, or sky blue and blue, were 26), in the order
# that gives classes side by side on the shipped maps (pullover and coat, trouser and dress, 4 and 9) the
# colours least alike (the same script: cost 0.548; the Okabe-Ito palette's best order cost 0.571).
DIGIT_COLOURS = ["#59A14F", "#7F7F7F", "#17BECF", "#000000", "#D55E00",
                 "#BCBD22", "#332288", "#FF9DA7", "#882255", "#0072B2"]
CLICK_GRID = 81  # resolution of the invisible layer that makes empty space of a 2-D map clickable


def colour(label: int) -> str:
    """The colour of class `label` on every map and legend (the ten repeat past ten classes)."""
    return DIGIT_COLOURS[int(label) % len(DIGIT_COLOURS)]


def map_title(title: str, legend_title: str, size: int = 15) -> str:
    """A map's title and its legend's, as the legend's title text (see _base_layout)."""
    return f"<span style='font-size:{size}px'>{title}</span><br>{legend_title}"


def _base_layout(fig: go.Figure, title: str, x_title: str, y_title: str, height: int | None = None,
                 legend_title: str = "digit:", entry_width: int | None = 30, title_size: int = 15) -> go.Figure:
    fig.update_layout(
        height=height, margin=dict(l=50, r=10, t=10, b=45), plot_bgcolor="white", paper_bgcolor="white",
        # A horizontal legend above the plot: beside it, it would squeeze the map on a phone. The map's title
        # is the first line of the legend's, so the top margin grows to fit the two, in one row on a laptop or
        # four on a phone: a title of its own could not push the margin past the legend, and a margin fixed
        # for a phone's rows left 60 px of white under the title on a laptop.
        legend=dict(title=dict(text=map_title(title, legend_title, title_size), side="top"), itemsizing="constant",
                    orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0, entrywidth=entry_width),
        hoverlabel=dict(bgcolor="white"), dragmode="pan", uirevision="keep",
        xaxis=dict(title=x_title, zeroline=False, gridcolor="#eee"),
        yaxis=dict(title=y_title, zeroline=False, gridcolor="#eee"),
    )
    return fig


def latent_map(coords: np.ndarray, labels: np.ndarray, title: str, x_title: str, y_title: str,
               background: tuple[np.ndarray, np.ndarray] | None = None, clickable_extent: float | None = None,
               marker_size: int = 4, height: int | None = None, index: np.ndarray | None = None,
               webgl: bool = False, regions: list[np.ndarray] | None = None,
               classes: tuple[str, ...] = tuple("0123456789"), noun: str = "digit",
               title_size: int = 15) -> go.Figure:
    """A scatter of codes coloured by class (a digit, for MNIST), one trace per class so the legend can
    hide each; `classes` names them and `noun` says what one image is. Past ten classes the colours repeat.

    `index` holds each point's test-image number when the points are a subset (default: 0..N-1).
    `webgl` draws the dots with WebGL: for the main map only (see the module's note). `regions`: one
    outline per digit (an (n, 2) closed path), drawn dashed in the digit's colour."""
    points = go.Scattergl if webgl else go.Scatter
    index = np.arange(len(coords)) if index is None else index
    fig = go.Figure()
    if clickable_extent is not None:
        # An invisible heatmap under the points: a click on empty space lands on it and reports x, y.
        axis = np.linspace(-clickable_extent, clickable_extent, CLICK_GRID)
        fig.add_trace(go.Heatmap(x=axis, y=axis, z=np.zeros((CLICK_GRID, CLICK_GRID)), opacity=0,
                                 showscale=False, hovertemplate="click: what the model draws at (%{x:.2f}, %{y:.2f})<extra></extra>",
                                 name="space"))
    if background is not None:
        mosaic, axis = background
        step = axis[1] - axis[0]
        source = "data:image/png;base64," + base64.b64encode(png_bytes(255 - mosaic)).decode()
        fig.add_layout_image(dict(source=source, xref="x", yref="y", x=axis[0] - step / 2, y=axis[-1] + step / 2,
                                  sizex=axis[-1] - axis[0] + step, sizey=axis[-1] - axis[0] + step,
                                  sizing="stretch", layer="below", opacity=0.55))
    for label, cls in enumerate(classes):
        idx = np.flatnonzero(labels == label)
        what = f"{noun} {cls}" if noun == "digit" else cls
        fig.add_trace(points(
            x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=cls,
            marker=dict(size=marker_size, color=colour(label), opacity=0.7),
            customdata=index[idx], hovertemplate=f"{what}<br>test image #%{{customdata}}<extra></extra>"))
    for label, outline in enumerate(regions or []):
        path = "M " + " L ".join(f"{x:.3f},{y:.3f}" for x, y in outline) + " Z"
        fig.add_shape(type="path", path=path, xref="x", yref="y", name=f"region {label}", layer="above",
                      line=dict(color=colour(label), width=2, dash="dash"))
    # Digits pack into a fixed width each; class names take their own length, several to a row.
    short = max((len(c) for c in classes), default=1) <= 2
    _base_layout(fig, title, x_title, y_title, height, legend_title=f"{noun}:", entry_width=30 if short else None,
                 title_size=title_size)
    if clickable_extent is not None:
        # A square plane (z1 and z2 on one scale) that the decoded digits cover edge to edge: the plot
        # narrows to fit rather than widening its range past the mosaic.
        fig.update_xaxes(range=[-clickable_extent, clickable_extent], constrain="domain")
        fig.update_yaxes(range=[-clickable_extent, clickable_extent], scaleanchor="x", scaleratio=1,
                         constrain="domain")
    return fig


def mark_points(fig: go.Figure, points: np.ndarray, name: str, colour: str = "#d62728",
                symbol: str = "star", line: bool = False) -> go.Figure:
    """Overlay the current point (or an interpolation path) on a map."""
    points = np.atleast_2d(points)
    fig.add_trace(go.Scatter(
        x=points[:, 0], y=points[:, 1], mode="lines+markers" if line else "markers", name=name,
        marker=dict(size=16 if not line else 9, color=colour, symbol=symbol, line=dict(width=1.5, color="white")),
        line=dict(color=colour, width=4), hoverinfo="skip"))
    return fig


def posterior_bars(mu: np.ndarray, sigma: np.ndarray, dims: list[int] | None = None) -> go.Figure:
    """mu plus/minus sigma per latent dimension, against the prior's N(0, 1) band."""
    dims = list(range(len(mu))) if dims is None else dims
    fig = go.Figure(go.Scatter(
        x=[str(d + 1) for d in dims], y=mu[dims], mode="markers", marker=dict(size=8, color="#0072B2"),
        error_y=dict(type="data", array=sigma[dims], thickness=1.5, width=4), name="the encoder's guess: μ ± σ",
        hovertemplate="number %{x}: most likely %{y:.2f}, give or take %{error_y.array:.2f}<extra></extra>"))
    # The band's words are in the title: as a label inside the chart, they covered the last number's dot.
    fig.add_hrect(y0=-1, y1=1, fillcolor="#999", opacity=0.12, line_width=0)
    # Room around the points and the band's label, so that neither sits on the frame.
    reach = max(1.0, float(np.max(np.abs(mu[dims]) + sigma[dims]))) if len(dims) else 1.0
    fig.update_layout(height=290, margin=dict(l=40, r=10, t=48, b=42), plot_bgcolor="white",
                      yaxis=dict(title="value", gridcolor="#eee", zeroline=True, range=[-1.25 * reach, 1.25 * reach]),
                  # Half a slot of room at each end, so that the first and last dots are not cut in half.
                  xaxis=dict(title="number of the code", type="category", range=[-0.7, len(dims) - 0.3]),
                      showlegend=False,
                      title=dict(text="Its code: each number's most likely value, ± how unsure<br>the encoder is "
                                      "(grey: the bell curve's middle, ±1)",
                                 font=dict(size=13), x=0.01))
    return fig


# Where a point's label may go, the first free one taken: above it, as on the ladder, then below, beside.
LABEL_PLACES = ("top center", "bottom center", "middle right", "middle left", "top right", "bottom left",
                "top left", "bottom right")


def label_places(xs: list[float], ys: list[float], labels: list[str], width_px: float = 380.0,
                 height_px: float = 240.0) -> list[str]:
    """A text position for each point's label, so that no two labels, and no label and another point,
    overlap on a plot of about `width_px` by `height_px` (a model trained at β = 1.2 beside the ladder's
    β = 1 put its label on top of the rung's). Where every place is taken, the label goes on top."""
    if not xs:
        return []
    sx = (max(xs) - min(xs)) or 1.0
    sy = (max(ys) - min(ys)) or 1.0
    px = [(x - min(xs)) / sx * width_px for x in xs]
    py = [(y - min(ys)) / sy * height_px for y in ys]  # upwards, as on the plot
    h, gap = 14.0, 9.0  # a label's height and its distance from its point's centre, in pixels

    def box(i: int, place: str) -> tuple[float, float, float, float]:
        w = 6.5 * len(labels[i])
        vertical, horizontal = place.split()
        cy = {"top": py[i] + gap + h / 2, "bottom": py[i] - gap - h / 2, "middle": py[i]}[vertical]
        cx = {"center": px[i], "right": px[i] + gap + w / 2, "left": px[i] - gap - w / 2}[horizontal]
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

    def clash(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    dots = [(x - 6, y - 6, x + 6, y + 6) for x, y in zip(px, py)]
    taken: list[tuple[float, float, float, float]] = []
    places = []
    for i in sorted(range(len(xs)), key=lambda i: xs[i]):
        free = [pl for pl in LABEL_PLACES
                if not any(clash(box(i, pl), t) for t in taken)
                and not any(clash(box(i, pl), d) for j, d in enumerate(dots) if j != i)]
        place = free[0] if free else LABEL_PLACES[0]
        taken.append(box(i, place))
        places.append((i, place))
    return [place for _, place in sorted(places)]


def rate_distortion(points: list[dict], current: str | None) -> go.Figure:
    """Reconstruction loss (distortion) against KL (rate), one point per model, labelled with beta."""
    fig = go.Figure()
    ladder = sorted([p for p in points if p.get("ladder")], key=lambda p: p["rate"])
    if ladder:
        fig.add_trace(go.Scatter(x=[p["rate"] for p in ladder], y=[p["distortion"] for p in ladder],
                                 mode="lines", line=dict(color="#bbb", dash="dot"), hoverinfo="skip",
                                 showlegend=False))
    labels = [f"β={p['beta']:g}" for p in points]
    places = label_places([p["rate"] for p in points], [p["distortion"] for p in points], labels)
    for p, label, place in zip(points, labels, places):
        is_current = p["name"] == current
        fig.add_trace(go.Scatter(
            x=[p["rate"]], y=[p["distortion"]], mode="markers+text", text=[label],
            textposition=place, name=p["name"], showlegend=False,
            marker=dict(size=16 if is_current else 10, color="#d62728" if is_current else "#0072B2",
                        symbol="star" if is_current else ("circle" if p.get("ladder") else "diamond")),
            hovertemplate=f"{p['name']}<br>KL %{{x:.1f}} nats<br>reconstruction %{{y:.1f}} nats<extra></extra>"))
    fig.update_layout(height=345, margin=dict(l=55, r=10, t=56, b=45), plot_bgcolor="white",
                      title=dict(text="Tidy codes against sharp copies,<br>one point per β (★ = shown)",
                                 font=dict(size=13), x=0.01),
                      xaxis=dict(title="codes stray from the bell curve (KL, nats) →", gridcolor="#eee"),
                      yaxis=dict(title="copies miss the digit (nats) →", gridcolor="#eee"))
    if points:  # head-room above the top point, so that its β label is not cut off
        ys = [p["distortion"] for p in points]
        pad = max(5.0, 0.08 * (max(ys) - min(ys)))
        fig.update_yaxes(range=[min(ys) - pad, max(ys) + 2 * pad])
    return fig


def kl_bars(kl_per_dim: np.ndarray, active: np.ndarray) -> go.Figure:
    """Average KL of each latent dimension, sorted; inactive (collapsed) dimensions are grey.

    `active` marks the active units by evaluate's criterion, so that the count matches the model's card.
    """
    active = np.asarray(active, dtype=bool)
    order = np.argsort(-kl_per_dim)
    values = kl_per_dim[order]
    colours = ["#0072B2" if a else "#999" for a in active[order]]
    count = int(active.sum())
    names = [str(i + 1) for i in order]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colours, name="in use",
                           hovertemplate="number %{x}: %{y:.3f} nats<extra></extra>"))
    # An unused number's bar is about zero high, so a grey square on the axis marks it: a stub drawn to a
    # share of the axis stood above the least used blue bars at one beta, and was a hair, unseen, at another.
    # A number in use gets a blue square too: at a large beta the least used are hairs beside the most used.
    unused = ~active[order]
    fig.add_trace(go.Scatter(x=names, y=np.zeros(len(names)), mode="markers", cliponaxis=False, name="squares",
                             marker=dict(symbol="square", size=8, color=colours),
                             customdata=np.where(unused, "unused", "in use"),
                             hovertemplate="number %{x}: %{customdata}<extra></extra>"))
    fig.update_layout(height=330, margin=dict(l=50, r=10, t=56, b=52), plot_bgcolor="white",
                      title=dict(text=f"How much each number of the code is used:<br>{count} of {len(values)} "
                                      "numbers in use (grey squares: unused)", font=dict(size=13), x=0.01),
                      showlegend=False,
                      yaxis=dict(title="use (in nats)", gridcolor="#eee"),
                      xaxis=dict(tickfont=dict(size=9), type="category", title="number of the code"))
    return fig


def loss_curve(history: list[dict], title: str = "Training loss") -> go.Figure:
    """Loss, reconstruction and KL per epoch (or per logged point), growing as training runs."""
    fig = go.Figure()
    xs = [h["x"] for h in history]
    for key, colour in (("loss", "#000"), ("reconstruction", "#0072B2"), ("kl", "#D55E00")):
        fig.add_trace(go.Scatter(x=xs, y=[h[key] for h in history], mode="lines+markers", name=key,
                                 line=dict(color=colour)))
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=40, b=40), plot_bgcolor="white",
                      title=dict(text=title, font=dict(size=13), x=0.01),
                      xaxis=dict(title="epoch", gridcolor="#eee"),
                      yaxis=dict(title="loss per image (nats; lower is better)", gridcolor="#eee"))
    return fig
