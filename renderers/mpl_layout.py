"""One-pass layout for our matplotlib figures: constrained layout's result at half its cost.

Constrained layout measures every axes' decorations twice because tick labels may change when the axes move; it was
a third of a sample's time. Our figures are one grid of axes (twins share it), figure legends at an edge and a
supxlabel, so pinning the ticks first makes the decorations a fixed size around the axes and one measurement exact.
Axes with a fixed aspect (pies) or insets (a heatmap's colour bar) change with the axes and get a second pass.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.layout_engine import LayoutEngine
from matplotlib.ticker import FixedLocator
from matplotlib.transforms import Bbox

PAD_PT = 3.0  # constrained layout's default padding (rcParams figure.constrained_layout.w_pad, 3/72 in)


class OnePassLayout(LayoutEngine):
    _adjust_compatible = True
    _colorbar_gridspec = False

    def execute(self, fig: Figure) -> None:
        gridded = [ax for ax in fig.axes if ax.get_subplotspec() is not None and ax.get_visible()]
        if not gridded:
            return  # hand-placed axes (tables) keep their positions
        for ax in [a for top in gridded for a in (top, *top.child_axes)]:  # insets too (a colour bar)
            for axis in (ax.xaxis, ax.yaxis):
                if not isinstance(axis.get_major_locator(), FixedLocator):
                    axis.set_major_locator(FixedLocator(axis.get_majorticklocs()))
        # a fixed aspect (pies) scales labels with the axes, and insets (a colour bar) are sized in axes fractions:
        # both move with the axes, so they take a second measurement
        passes = 2 if any(ax.get_aspect() != "auto" or ax.child_axes for ax in gridded) else 1
        for _ in range(passes):
            _fit(fig, gridded)


def _fit(fig: Figure, gridded: list) -> None:
    """Place the grid so its decorations, the figure legends and the supxlabel fit the canvas with a pad each."""
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    pad = PAD_PT * fig.dpi / 72
    tight = Bbox.union([a.get_tightbbox(renderer, for_layout_only=True)
                        for ax in gridded for a in (ax, *ax.child_axes)])  # insets placed beside (a colour bar)
    inner = Bbox.union([ax.get_window_extent(renderer) for ax in gridded])  # after the aspect is applied
    # the decorations' reach past the axes on each side, and where the axes may go with them
    reach_l, reach_b, reach_r, reach_t = inner.x0 - tight.x0, inner.y0 - tight.y0, tight.x1 - inner.x1, tight.y1 - inner.y1
    left, bottom, right, top = pad + reach_l, pad + reach_b, width - pad - reach_r, height - pad - reach_t
    # figure legends ("outside …": at an edge) and figure texts (the supxlabel): the grid keeps clear of them
    boxes = [legend.get_window_extent(renderer) for legend in fig.legends]
    boxes += [text.get_window_extent(renderer) for text in fig.texts if text.get_text()]
    for box in boxes:
        if box.x0 > width / 2:
            right = min(right, box.x0 - pad - reach_r)
        elif box.y0 > height / 2:
            top = min(top, box.y0 - pad - reach_t)
        else:
            bottom = max(bottom, box.y1 + pad + reach_b)
    if right - left > 1 and top - bottom > 1:
        fig.subplots_adjust(left=left / width, right=right / width, bottom=bottom / height, top=top / height)
