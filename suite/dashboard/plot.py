"""Plots as inline SVG written here: a line (1-D dataset), a heat map (2-D dataset) and a
scatter of one key against another (compare page). No JavaScript, nothing from a CDN."""

import math
from html import escape

W, H = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 28, 44
#: colour stops of the heat map (dark blue, teal, yellow), as in common perceptual maps
STOPS = ((68, 1, 84), (33, 145, 140), (253, 231, 37))


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _span(values, pad=0.0):
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


def _fmt(v, span=None):
    if span is not None and abs(v) < abs(span[1] - span[0]) * 1e-9:
        v = 0.0  # a tick at zero that rounding left at 1e-17
    return f"{v:.4g}"


def _frame(title, xlabel, ylabel, xspan, yspan, body, xticks=None):
    """The SVG document around ``body``: axes with five ticks each, labels and title."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="white" '
             'stroke="#999"/>',
             f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
             f'<text x="{LEFT + pw / 2}" y="{H - 8}" text-anchor="middle" font-size="12">'
             f'{escape(xlabel)}</text>',
             f'<text x="14" y="{TOP + ph / 2}" text-anchor="middle" font-size="12" '
             f'transform="rotate(-90 14 {TOP + ph / 2})">{escape(ylabel)}</text>']
    if xticks is None and xspan is not None:
        lo, hi = xspan
        xticks = [(LEFT + pw * k / 4, _fmt(lo + (hi - lo) * k / 4, xspan)) for k in range(5)]
    for x, text in xticks or []:
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 4}" '
                     'stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle" '
                     f'font-size="11">{escape(text)}</text>')
    if yspan is not None:
        lo, hi = yspan
        for k in range(5):
            y = TOP + ph - ph * k / 4
            parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" '
                         'stroke="#333"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                         f'font-size="11">{_fmt(lo + (hi - lo) * k / 4, yspan)}</text>')
    parts.extend(body)
    parts.append("</svg>")
    return "".join(parts)


def line(ys, step=1, title="", xlabel="index", ylabel="value"):
    """A line plot of ``ys`` against their index (times ``step``, for strided reads)."""
    pts = [(i * step, float(y)) for i, y in enumerate(ys) if _finite(float(y))]
    if not pts:
        return _empty(title)
    xspan = _span([p[0] for p in pts])
    yspan = _span([p[1] for p in pts])
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    coords = " ".join(f"{LEFT + pw * (x - xspan[0]) / (xspan[1] - xspan[0]):.1f},"
                      f"{TOP + ph - ph * (y - yspan[0]) / (yspan[1] - yspan[0]):.1f}"
                      for x, y in pts)
    body = [f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{coords}"/>']
    return _frame(title, xlabel, ylabel, xspan, yspan, body)


def heatmap(grid, title="", steps=(1, 1)):
    """A heat map of a 2-D array (rows top to bottom); non-finite cells are left grey."""
    rows, cols = len(grid), len(grid[0]) if len(grid) else 0
    finite = [float(v) for row in grid for v in row if _finite(float(v))]
    if not finite or not cols:
        return _empty(title)
    lo, hi = _span(finite)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    cw, ch = pw / cols, ph / rows
    body = []
    for r, row in enumerate(grid):
        for c, v in enumerate(row):
            v = float(v)
            colour = _colour((v - lo) / (hi - lo)) if _finite(v) else "#ccc"
            body.append(f'<rect x="{LEFT + c * cw:.2f}" y="{TOP + r * ch:.2f}" '
                        f'width="{cw + 0.05:.2f}" height="{ch + 0.05:.2f}" fill="{colour}"/>')
    xticks = [(LEFT + pw * k / 4, _fmt(cols * steps[1] * k / 4)) for k in range(5)]
    body.append(f'<text x="{W - RIGHT}" y="18" text-anchor="end" font-size="11">'
                f'{_fmt(lo)} … {_fmt(hi)}</text>')
    return _frame(title, "column", "row", None, (rows * steps[0], 0), body, xticks)


def scatter(points, title="", xlabel="", ylabel=""):
    """A scatter of ``[(x, y, label)]``: numeric x on a linear axis, any other x as
    categories in order of appearance; points with a y that is not a number are left out."""
    pts = [(x, float(y), label) for x, y, label in points if _finite(y)]
    if not pts:
        return _empty(title)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    numeric = all(_finite(x) for x, _, _ in pts)
    if numeric:
        xspan = _span([float(x) for x, _, _ in pts], 0.05)  # points off the frame
        xs = [LEFT + pw * (float(x) - xspan[0]) / (xspan[1] - xspan[0]) for x, _, _ in pts]
        xticks = None
    else:
        cats = list(dict.fromkeys(repr(x) for x, _, _ in pts))
        pos = {c: LEFT + pw * (k + 0.5) / len(cats) for k, c in enumerate(cats)}
        xs = [pos[repr(x)] for x, _, _ in pts]
        xspan, xticks = None, [(pos[c], c[:12]) for c in cats[:20]]
    yspan = _span([y for _, y, _ in pts], 0.05)
    body = []
    for px, (_, y, label) in zip(xs, pts, strict=True):
        py = TOP + ph - ph * (y - yspan[0]) / (yspan[1] - yspan[0])
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#d62728">'
                    f'<title>{escape(str(label))}</title></circle>')
    return _frame(title, xlabel, ylabel, xspan, yspan, body, xticks)


def _empty(title):
    return _frame(title, "", "", None, None,
                  [f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no finite values</text>'])


def _colour(t):
    t = min(max(t, 0.0), 1.0) * (len(STOPS) - 1)
    k = min(int(t), len(STOPS) - 2)
    f = t - k
    a, b = STOPS[k], STOPS[k + 1]
    return "#" + "".join(f"{round(a[i] + (b[i] - a[i]) * f):02x}" for i in range(3))
