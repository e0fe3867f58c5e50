"""Sequence and flow diagrams from a few lines of text, drawn on the server as accessible inline SVG.

Rendering here rather than with a JavaScript library keeps lesson pages readable without JavaScript, printable,
and free of a vendored bundle. Colours come from CSS classes that use the site's theme variables, so the same
SVG follows light and dark mode; presentation attributes (`currentColor`) are only a fallback for readers that
drop the stylesheet. Every diagram also carries its steps as text (`<desc>` and a list under the figure), which
is what a screen reader announces.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape

# Diagram text is 13px system-ui; 7 px per character over-estimates slightly, so labels never spill out of boxes.
CHAR_W = 7.0
BOLD_CHAR_W = 7.8  # participant names are drawn in semibold
LINE_H = 16
MARGIN = 16
BOX_H = 36
STORAGE_WORDS = ("broker", "queue", "topic", "log", "stream", "store")

ARROWS = {"->": "call", "-->": "reply", "->>": "async", "-x": "lost"}
ARROW_WORDS = {"call": "request", "reply": "reply", "async": "asynchronous message", "lost": "lost message"}
# The arrow must stand alone (`A -x B`, not `Box-x`), so it needs a space or the end of the name around it.
MESSAGE_RE = re.compile(r"^(?P<src>.+?)\s*(?P<arrow>-->|->>|->|-x(?=\s))\s*(?P<dst>[^:]+?)\s*(?::\s*(?P<label>.*))?$")
NOTE_RE = re.compile(r"^note\s+over\s+(?P<who>[^:]+?)\s*:\s*(?P<text>.+)$", re.IGNORECASE)
PARTICIPANT_RE = re.compile(r"^participant\s+(?P<name>.+)$", re.IGNORECASE)
TITLE_RE = re.compile(r"^title\s*:\s*(?P<title>.*)$", re.IGNORECASE)


class DiagramError(ValueError):
    """A diagram line that cannot be parsed; the message names the line within the block."""


@dataclass(frozen=True)
class Message:
    src: str
    dst: str
    kind: str  # call | reply | async | lost
    label: str


@dataclass(frozen=True)
class Note:
    over: tuple[str, ...]
    text: str


@dataclass
class Diagram:
    kind: str  # sequence | flow
    title: str = ""
    participants: list[str] = field(default_factory=list)
    steps: list[Message | Note] = field(default_factory=list)

    def add_participant(self, name: str) -> None:
        if name not in self.participants:
            self.participants.append(name)


def parse(kind: str, source: str) -> Diagram:
    """Parse a `sequence` or `flow` block; raises DiagramError naming the offending line."""
    diagram = Diagram(kind=kind)
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if title := TITLE_RE.match(line):
            diagram.title = title["title"].strip()
        elif participant := PARTICIPANT_RE.match(line):
            diagram.add_participant(participant["name"].strip())
        elif note := NOTE_RE.match(line):
            if kind == "flow":
                raise DiagramError(f"line {number}: flow diagrams have no notes")
            over = tuple(name.strip() for name in note["who"].split(","))
            if len(over) > 2 or not all(over):
                raise DiagramError(f"line {number}: a note is over one participant or two ('note over A, B: text')")
            for name in over:
                diagram.add_participant(name)
            diagram.steps.append(Note(over=over, text=note["text"].strip()))
        elif message := MESSAGE_RE.match(line):
            src, dst = message["src"].strip(), message["dst"].strip()
            diagram.add_participant(src)
            diagram.add_participant(dst)
            diagram.steps.append(
                Message(src=src, dst=dst, kind=ARROWS[message["arrow"]], label=(message["label"] or "").strip())
            )
        else:
            raise DiagramError(f"line {number}: cannot read {line!r}; expected 'A -> B: label', 'note over A: text'")
    if not diagram.title:
        raise DiagramError("title: is required (it is the diagram's accessible name)")
    if not any(isinstance(step, Message) for step in diagram.steps):
        raise DiagramError("no arrows: a diagram needs at least one 'A -> B' line")
    return diagram


# Lesson pages scale a diagram down to their text column (782 px on a laptop); text stays legible (10 px or more
# from 13 px) when the drawing is at most this wide, so layouts wrap their labels tighter until it is.
MAX_WIDTH = 1000
# Label and box wrap widths, in characters, from the roomiest to the tightest.
SEQUENCE_WRAPS = ((36, 30, 16), (28, 24, 14), (22, 20, 12), (18, 18, 10))
FLOW_WRAPS = ((28, 22), (22, 18), (18, 14), (14, 12))


def render(kind: str, source: str) -> str:
    """The block as a `<figure>` with inline SVG and a text version of its steps."""
    diagram = parse(kind, source)
    svg = _fitted(diagram)
    steps = "".join(f"<li>{escape(_describe(step))}</li>" for step in diagram.steps)
    return (
        f'<figure class="diagram diagram-{kind}"><div class="diagram-scroll">{svg}</div>'
        f"<figcaption>{escape(diagram.title)}</figcaption>"
        f'<details class="diagram-text"><summary>The diagram as text</summary><ol>{steps}</ol></details></figure>'
    )


def _fitted(diagram: Diagram) -> str:
    """The roomiest layout no wider than MAX_WIDTH, or the narrowest one there is."""
    best: tuple[float, str] | None = None
    layouts: Iterator[_SequenceLayout | _FlowLayout]
    if diagram.kind == "sequence":
        layouts = (_SequenceLayout(diagram, label=a, note=b, box=c) for a, b, c in SEQUENCE_WRAPS)
    else:
        layouts = (_FlowLayout(diagram, label=a, node=b) for a, b in FLOW_WRAPS)
    for layout in layouts:
        svg = layout.svg()
        width = float(re.search(r'width="([\d.]+)"', svg)[1])  # type: ignore[index]
        if width <= MAX_WIDTH:
            return svg
        if best is None or width < best[0]:
            best = (width, svg)
    assert best is not None
    return best[1]


def _describe(step: Message | Note) -> str:
    if isinstance(step, Note):
        return f"Note over {' and '.join(step.over)}: {step.text}"
    text = f"{step.src} to {step.dst}, {ARROW_WORDS[step.kind]}"
    return f"{text}: {step.label}" if step.label else text


def _wrap(text: str, chars: int) -> list[str]:
    return textwrap.wrap(text, chars, break_long_words=False, break_on_hyphens=False) or [""]


def _text_w(lines: list[str], char_w: float = CHAR_W) -> float:
    return max(len(line) for line in lines) * char_w


def _n(value: float) -> str:
    """Coordinates rounded to one decimal, without a trailing '.0', to keep the markup small and stable."""
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, lines: list[str], cls: str, anchor: str = "middle") -> str:
    """Multi-line text whose first baseline is at y."""
    spans = "".join(
        f'<tspan x="{_n(x)}" dy="{0 if i == 0 else LINE_H}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="currentColor">{spans}</text>'


def _arrow(x1: float, y1: float, x2: float, y2: float, kind: str) -> str:
    """A line from (x1, y1) to (x2, y2) ending in the head its kind calls for; heads are plain polygons, not
    markers, so several diagrams on one page need no unique ids."""
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    ux, uy = dx / length, dy / length
    if kind == "lost":  # stops short of the target and ends in a cross: the message never arrives
        x2, y2 = x1 + dx * 0.8, y1 + dy * 0.8
    dash = ' stroke-dasharray="6 4"' if kind == "reply" else ""
    parts = [
        f'<line class="edge edge-{kind}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
        f'stroke="currentColor"{dash}></line>'
    ]
    size, half = 10.0, 5.0
    bx, by = x2 - ux * size, y2 - uy * size
    left, right = (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)
    if kind == "lost":
        s = 6.0
        parts.append(
            f'<path class="head head-lost" d="M{_n(x2 - s)} {_n(y2 - s)}L{_n(x2 + s)} {_n(y2 + s)}'
            f'M{_n(x2 - s)} {_n(y2 + s)}L{_n(x2 + s)} {_n(y2 - s)}" stroke="currentColor"></path>'
        )
    elif kind == "async":
        parts.append(
            f'<polyline class="head head-open" points="{_n(left[0])},{_n(left[1])} {_n(x2)},{_n(y2)} '
            f'{_n(right[0])},{_n(right[1])}" fill="none" stroke="currentColor"></polyline>'
        )
    else:
        parts.append(
            f'<polygon class="head head-{kind}" points="{_n(left[0])},{_n(left[1])} {_n(x2)},{_n(y2)} '
            f'{_n(right[0])},{_n(right[1])}" fill="currentColor"></polygon>'
        )
    return "".join(parts)


def _svg(diagram: Diagram, width: float, height: float, body: list[str]) -> str:
    title = escape(diagram.title)
    desc = escape(" ".join(f"{i}. {_describe(step)}." for i, step in enumerate(diagram.steps, start=1)))
    return (
        f'<svg class="diagram-svg" role="img" aria-label="{title}" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}"><title>{title}</title><desc>{desc}</desc>{"".join(body)}</svg>'
    )


class _SequenceLayout:
    """Participants in columns with lifelines; each step takes one row, top to bottom."""

    LABEL_CHARS = 36
    NOTE_CHARS = 30
    SELF_LOOP_W = 40

    def __init__(self, diagram: Diagram, *, label: int = 36, note: int = 30, box: int = 16) -> None:
        self.diagram = diagram
        self.LABEL_CHARS, self.NOTE_CHARS = label, note
        names = diagram.participants
        self.index = {name: i for i, name in enumerate(names)}
        self.box_lines = {name: _wrap(name, box) for name in names}
        least = 100.0 if box >= 16 else box * 6.0
        self.box_w = {name: max(least, _text_w(self.box_lines[name], BOLD_CHAR_W) + 24) for name in names}
        self.box_h = max(BOX_H, max(len(lines) for lines in self.box_lines.values()) * LINE_H + 14)
        self.x = self._columns()

    def _columns(self) -> list[float]:
        names = self.diagram.participants
        least = 140.0 if self.LABEL_CHARS >= 36 else 110.0
        gaps = [max(least, (self.box_w[a] + self.box_w[b]) / 2 + 24) for a, b in itertools.pairwise(names)]
        spans = []
        for step in self.diagram.steps:
            if isinstance(step, Message) and step.src != step.dst:
                a, b = sorted((self.index[step.src], self.index[step.dst]))
                spans.append((b - a, a, b, _text_w(_wrap(step.label, self.LABEL_CHARS)) + 24))
        # Widen the gaps a label spans until it fits; short spans first, so long ones reuse the room they made.
        for _, a, b, need in sorted(spans):
            have = sum(gaps[a:b])
            if have < need:
                for i in range(a, b):
                    gaps[i] += (need - have) / (b - a)
        x = [MARGIN + self.box_w[names[0]] / 2]
        for gap in gaps:
            x.append(x[-1] + gap)
        return x

    def svg(self) -> str:
        names = self.diagram.participants
        body: list[str] = []
        y = MARGIN + self.box_h + 16
        left, right = 0.0, max(self.x[i] + self.box_w[n] / 2 for i, n in enumerate(names)) + MARGIN
        for step in self.diagram.steps:
            if isinstance(step, Note):
                lines = _wrap(step.text, self.NOTE_CHARS)
                xs = [self.x[self.index[name]] for name in step.over]
                span = max(xs) - min(xs)
                w = max(_text_w(lines) + 20, span + 60)
                cx = (max(xs) + min(xs)) / 2
                h = len(lines) * LINE_H + 12
                body.append(
                    f'<rect class="note" x="{_n(cx - w / 2)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="4" '
                    f'fill="none" stroke="currentColor"></rect>'
                )
                body.append(_text(cx, y + 18, lines, "note-text"))
                left, right = min(left, cx - w / 2 - MARGIN), max(right, cx + w / 2 + MARGIN)
                y += h + 14
                continue
            lines = _wrap(step.label, self.LABEL_CHARS) if step.label else []
            x1, x2 = self.x[self.index[step.src]], self.x[self.index[step.dst]]
            if x1 == x2:  # a message to itself: a small loop to the right, label beside it
                ly = y + 10
                loop = self.SELF_LOOP_W
                dash = ' stroke-dasharray="6 4"' if step.kind == "reply" else ""
                body.append(
                    f'<path class="edge edge-{step.kind}" d="M{_n(x1)} {_n(ly)}h{loop}v22h-{loop - 2}" fill="none" '
                    f'stroke="currentColor"{dash}></path>'
                )
                body.append(_arrow(x1 + 12, ly + 22, x1 + 1, ly + 22, step.kind))
                if lines:
                    body.append(_text(x1 + loop + 8, ly + 4, lines, "label", anchor="start"))
                    right = max(right, x1 + loop + 8 + _text_w(lines) + MARGIN)
                y += max(40, len(lines) * LINE_H + 16) + 14
                continue
            line_y = y + len(lines) * LINE_H + 4
            if lines:
                body.append(_text((x1 + x2) / 2, y + 10, lines, "label"))
            end = x2 - 2 if x2 > x1 else x2 + 2
            body.append(_arrow(x1, line_y, end, line_y, step.kind))
            y = line_y + 22
        height = y + 4
        shift = -left
        lifelines = [
            f'<line class="lifeline" x1="{_n(x)}" y1="{_n(MARGIN + self.box_h)}" x2="{_n(x)}" y2="{_n(height - 4)}" '
            f'stroke="currentColor" stroke-dasharray="2 4"></line>'
            for x in self.x
        ]
        boxes = []
        for i, name in enumerate(names):
            w = self.box_w[name]
            lines = self.box_lines[name]
            boxes.append(
                f'<rect class="node" x="{_n(self.x[i] - w / 2)}" y="{MARGIN}" width="{_n(w)}" '
                f'height="{_n(self.box_h)}" rx="6" fill="none" stroke="currentColor"></rect>'
            )
            first = MARGIN + self.box_h / 2 + 5 - (len(lines) - 1) * LINE_H / 2
            boxes.append(_text(self.x[i], first, lines, "node-text"))
        content = [*lifelines, *boxes, *body]
        if shift:
            content = [f'<g transform="translate({_n(shift)} 0)">', *content, "</g>"]
        return _svg(self.diagram, right - left, height, content)


class _FlowLayout:
    """Boxes in left-to-right layers (longest path from the sources), arrows between them."""

    NODE_CHARS = 22
    LABEL_CHARS = 28
    ROW_GAP = 36

    def __init__(self, diagram: Diagram, *, label: int = 28, node: int = 22) -> None:
        self.diagram = diagram
        self.LABEL_CHARS, self.NODE_CHARS = label, node
        self.gap = 70.0 if label >= 28 else 44.0
        self.edges = [step for step in diagram.steps if isinstance(step, Message)]
        names = diagram.participants
        self.lines = {name: _wrap(name, self.NODE_CHARS) for name in names}
        self.w = {name: max(min(96.0, node * 5.0), _text_w(self.lines[name], BOLD_CHAR_W) + 28) for name in names}
        self.h = {name: len(self.lines[name]) * LINE_H + 22 for name in names}
        self.layer = self._layers()

    def _layers(self) -> dict[str, int]:
        names = self.diagram.participants
        succ: dict[str, list[str]] = {name: [] for name in names}
        for edge in self.edges:
            succ[edge.src].append(edge.dst)
        # Depth-first search marks back edges (cycles), which are left out of the layering.
        back: set[tuple[str, str]] = set()
        state: dict[str, int] = {}

        def visit(node: str) -> None:
            state[node] = 1
            for nxt in succ[node]:
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    visit(nxt)
            state[node] = 2

        for name in names:
            if name not in state:
                visit(name)
        layer = dict.fromkeys(names, 0)
        for _ in names:  # longest path by relaxation; at most len(names) rounds in an acyclic graph
            changed = False
            for edge in self.edges:
                if (edge.src, edge.dst) not in back and edge.src != edge.dst and layer[edge.dst] <= layer[edge.src]:
                    layer[edge.dst] = layer[edge.src] + 1
                    changed = True
            if not changed:
                break
        return layer

    def svg(self) -> str:
        names = self.diagram.participants
        columns: list[list[str]] = [[] for _ in range(max(self.layer.values()) + 1)]
        for name in names:
            columns[self.layer[name]].append(name)
        # One barycentre pass: sort each column by the mean row of its predecessors, to cut crossings.
        row: dict[str, float] = {name: i for col in columns for i, name in enumerate(col)}
        for col in columns[1:]:

            def centre(name: str) -> float:
                preds = [row[e.src] for e in self.edges if e.dst == name and self.layer[e.src] < self.layer[name]]
                return sum(preds) / len(preds) if preds else row[name]

            col.sort(key=centre)
            row.update({name: i for i, name in enumerate(col)})
        col_w = [max(self.w[name] for name in col) for col in columns]
        gaps = [self.gap] * (len(columns) - 1)
        for edge in self.edges:
            a, b = self.layer[edge.src], self.layer[edge.dst]
            if edge.label and b == a + 1:
                gaps[a] = max(gaps[a], _text_w(_wrap(edge.label, self.LABEL_CHARS)) + (40 if self.gap >= 70 else 24))
        col_h = [sum(self.h[name] for name in col) + self.ROW_GAP * (len(col) - 1) for col in columns]
        height: float = max(col_h) + 2 * MARGIN
        pos: dict[str, tuple[float, float]] = {}  # centre of each box
        x: float = MARGIN
        for i, col in enumerate(columns):
            y = MARGIN + (max(col_h) - col_h[i]) / 2
            for name in col:
                pos[name] = (x + col_w[i] / 2, y + self.h[name] / 2)
                y += self.h[name] + self.ROW_GAP
            x += col_w[i] + (gaps[i] if i < len(gaps) else 0)
        width = x + MARGIN
        body: list[str] = []
        placed: list[tuple[float, float, float, float]] = []  # label boxes: left, top, right, bottom
        labels: list[str] = []
        pairs = [frozenset((e.src, e.dst)) for e in self.edges]
        highest = float(MARGIN)  # the top of the drawing, which arrows routed over a row can raise
        for i, edge in enumerate(self.edges):
            (sx, sy), (tx, ty) = pos[edge.src], pos[edge.dst]
            # Several arrows between the same two boxes run side by side instead of on top of each other.
            siblings = [j for j, pair in enumerate(pairs) if pair == pairs[i]]
            offset = (siblings.index(i) - (len(siblings) - 1) / 2) * 12
            between = [n for n in names if self.layer[edge.src] < self.layer[n] < self.layer[edge.dst]]
            if between:  # skips a column: route over the boxes in between rather than through them
                x1, y1 = sx + self.w[edge.src] / 2, sy + offset
                x2, y2 = tx - self.w[edge.dst] / 2 - 2, ty + offset
                over = min(pos[n][1] - self.h[n] / 2 for n in between) - 22 + offset
                dash = ' stroke-dasharray="6 4"' if edge.kind == "reply" else ""
                body.append(
                    f'<polyline class="edge edge-{edge.kind}" points="{_n(x1)},{_n(y1)} {_n(x1 + 18)},{_n(over)} '
                    f'{_n(x2 - 18)},{_n(over)}" fill="none" stroke="currentColor"{dash}></polyline>'
                )
                body.append(_arrow(x2 - 18, over, x2, y2, edge.kind))
                lx, ly = (x1 + x2) / 2, over
                highest = min(highest, over - 8)
            elif self.layer[edge.dst] > self.layer[edge.src]:
                x1, y1 = sx + self.w[edge.src] / 2, sy + offset
                x2, y2 = tx - self.w[edge.dst] / 2 - 2, ty + offset
                body.append(_arrow(x1, y1, x2, y2, edge.kind))
                # Fanning arrows are furthest apart at their open end, so the label sits nearer that end.
                fan_out, fan_in = sum(e.src == edge.src for e in self.edges), sum(e.dst == edge.dst for e in self.edges)
                t = 0.5 if fan_out == fan_in else (0.62 if fan_out > fan_in else 0.38)
                lx, ly = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
            else:  # backwards or within a column: an arc below the boxes
                x1, y1 = sx + offset, sy + self.h[edge.src] / 2
                x2, y2 = tx + offset, ty + self.h[edge.dst] / 2 + 2
                dip = max(y1, y2) + 36
                dash = ' stroke-dasharray="6 4"' if edge.kind == "reply" else ""
                body.append(
                    f'<path class="edge edge-{edge.kind}" d="M{_n(x1)} {_n(y1)}C{_n(x1)} {_n(dip)} {_n(x2)} {_n(dip)} '
                    f'{_n(x2)} {_n(y2 + 12)}" fill="none" stroke="currentColor"{dash}></path>'
                )
                body.append(_arrow(x2, y2 + 12, x2, y2, edge.kind))
                lx, ly = (x1 + x2) / 2, dip - 6
                height = max(height, dip + MARGIN)
            if edge.label:
                lines = _wrap(edge.label, self.LABEL_CHARS)
                w, h = _text_w(lines) + 8, len(lines) * LINE_H + 4
                if x2 - x1 >= w + 8:  # keep the label clear of both boxes
                    lx = min(max(lx, x1 + w / 2 + 4), x2 - w / 2 - 4)
                top = ly - h / 2
                # Labels that would overlap an earlier one move down below it, next to their own arrow.
                for left, above, right, below in sorted(placed, key=lambda box: box[1]):
                    if lx - w / 2 < right and lx + w / 2 > left and top < below and top + h > above:
                        top = below + 2
                placed.append((lx - w / 2, top, lx + w / 2, top + h))
                height = max(height, top + h + MARGIN)
                labels.append(
                    f'<rect class="label-bg" x="{_n(lx - w / 2)}" y="{_n(top)}" width="{_n(w)}" height="{_n(h)}" '
                    f'rx="3" fill="none"></rect>'
                )
                labels.append(_text(lx, top + 13, lines, "label"))
        for name in names:
            cx, cy = pos[name]
            w, h = self.w[name], self.h[name]
            body.append(_node_shape(name, cx - w / 2, cy - h / 2, w, h))
            lines = self.lines[name]
            body.append(_text(cx, cy + 5 - (len(lines) - 1) * LINE_H / 2, lines, "node-text"))
        top = min([MARGIN, highest, *(box[1] - 4 for box in placed)])
        content = body + labels
        if top < MARGIN:  # an arrow routed over the top row needs room above it
            content = [f'<g transform="translate(0 {_n(MARGIN - top)})">', *content, "</g>"]
            height += MARGIN - top
        return _svg(self.diagram, width, height, content)


def _node_shape(name: str, x: float, y: float, w: float, h: float) -> str:
    """A rounded box, or a cylinder for anything that stores messages (broker, queue, topic, log, stream, store)."""
    if any(word in name.lower() for word in STORAGE_WORDS):
        r, rx = 6.0, w / 2
        return (
            f'<path class="node node-storage" d="M{_n(x)} {_n(y + r)}a{_n(rx)} {_n(r)} 0 0 1 {_n(w)} 0v{_n(h - 2 * r)}'
            f'a{_n(rx)} {_n(r)} 0 0 1 {_n(-w)} 0zM{_n(x)} {_n(y + r)}a{_n(rx)} {_n(r)} 0 0 0 {_n(w)} 0" '
            f'fill="none" stroke="currentColor"></path>'
        )
    return (
        f'<rect class="node" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="6" fill="none" '
        f'stroke="currentColor"></rect>'
    )
