"""svgkit.py — the few SVG shapes the book's figures are drawn with (standard library only).

Every figure is a white card (so it reads the same on a light or a dark page) with a viewBox and
width="100%": the browser scales it to the column, 358 px on a phone, 736 px on a desktop. The
figures are drawn about 600 units wide, so 14-unit text is still ~8.5 px on a phone.

Output is deterministic: numbers are printed by num() (at most one decimal, no trailing zeros) and
nothing depends on the clock, the platform or dict order, so `make figures` rewrites the same
bytes and make test can compare the committed files with a fresh drawing.
"""

SANS = "Helvetica, Arial, sans-serif"
MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace"

# (stroke, fill) pairs that keep contrast on the white card.
BLUE = ("#1f5fa6", "#dbe8f6")
ORANGE = ("#b8560b", "#fde3cc")
GREEN = ("#2e7d32", "#dcefd9")
PURPLE = ("#6a3d9a", "#ebe1f4")
GREY = ("#555555", "#eeeeee")
RED = ("#b3261e", "#f9dedc")
TEAL = ("#00695c", "#d5eeea")
INK = "#1a1a1a"
MUTED = "#555555"


def num(v):
    """A coordinate as text: rounded to 0.1, without a trailing .0."""
    r = round(float(v), 1)
    if r == int(r):
        return str(int(r))
    return f"{r:.1f}"


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def text_width(s, size, mono=False):
    """A rough width of s in user units (no font metrics here): good enough to size boxes."""
    return len(str(s)) * size * (0.6 if mono else 0.56)


class Svg:
    def __init__(self, width, height, title):
        self.w, self.h = width, height
        self.title = title
        self.body = []
        self.defs = []

    def add(self, s):
        self.body.append(s)

    def rect(self, x, y, w, h, colors=GREY, rx=4, dash=None, stroke_width=1.2, fill=None):
        stroke, default_fill = colors
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="{num(rx)}" '
                 f'fill="{fill or default_fill}" stroke="{stroke}" stroke-width="{num(stroke_width)}"{extra}/>')

    def text(self, x, y, s, size=14, anchor="start", weight=None, color=INK, mono=False, italic=False):
        attrs = [f'x="{num(x)}"', f'y="{num(y)}"', f'font-size="{num(size)}"']
        if anchor != "start":
            attrs.append(f'text-anchor="{anchor}"')
        if weight:
            attrs.append(f'font-weight="{weight}"')
        if color != INK:
            attrs.append(f'fill="{color}"')
        if mono:
            attrs.append(f'font-family="{MONO}"')
        if italic:
            attrs.append('font-style="italic"')
        self.add(f'<text {" ".join(attrs)}>{esc(s)}</text>')

    def line(self, x1, y1, x2, y2, color=MUTED, width=1.2, dash=None, arrow=False):
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        if arrow:
            extra += ' marker-end="url(#arrow)"'
        self.add(f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{color}" '
                 f'stroke-width="{num(width)}"{extra}/>')

    def arrow(self, x1, y1, x2, y2, color=MUTED, width=1.4, dash=None):
        self.line(x1, y1, x2, y2, color, width, dash, arrow=True)

    def path(self, d, color=MUTED, width=1.2, fill="none", dash=None, arrow=False):
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        if arrow:
            extra += ' marker-end="url(#arrow)"'
        self.add(f'<path d="{d}" fill="{fill}" stroke="{color}" stroke-width="{num(width)}"{extra}/>')

    def circle(self, cx, cy, r, colors=GREY, width=1.2):
        self.add(f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}" fill="{colors[1]}" stroke="{colors[0]}" '
                 f'stroke-width="{num(width)}"/>')

    def box(self, x, y, w, h, label, colors=BLUE, size=14, sub=None, sub_size=12, mono=False):
        """A rounded box with a centred label and an optional smaller second line."""
        self.rect(x, y, w, h, colors)
        if sub is None:
            self.text(x + w / 2, y + h / 2 + size * 0.35, label, size, "middle", mono=mono)
        else:
            self.text(x + w / 2, y + h / 2 - 2, label, size, "middle", mono=mono)
            self.text(x + w / 2, y + h / 2 + sub_size + 1, sub, sub_size, "middle", color=MUTED, mono=mono)

    def render(self):
        w, h = num(self.w), num(self.h)
        head = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
                f'font-family="{SANS}" role="img" aria-label="{esc(self.title)}">',
                f'<title>{esc(self.title)}</title>',
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/>'
                '</marker>' + "".join(self.defs) + '</defs>',
                f'<rect x="0.5" y="0.5" width="{num(self.w - 1)}" height="{num(self.h - 1)}" rx="10" '
                f'fill="#ffffff" stroke="#cfcfc8"/>']
        return "\n".join(head + self.body + ["</svg>"]) + "\n"
