"""The Attention tab [document 2.4]: what the model attends to, for a few validation probes.

Each section is a tab, offered only when the snapshot has its data: co-attention (token x patch heatmap,
the probe image with one word's patch weights over it, and the words a clicked patch looks
at), caption self-attention, modality weights (per probe, and the validation mean per epoch)
and the graph algorithm's neighbour weights. Every widget is built once; a new snapshot only
feeds new arrays in, keeping the chosen probe, word and patch.

Composite probes (two emoji side by side, the caption of one: ``evaluation.grounding``),
when the run has them, follow the real probes in the probe list; the captioned half is
outlined over the image and the text says whether its words look at it more than at the
other half (the pointing game). The figures over the probes stay the real probes' own.

A co-attention with several heads draws their mean by default; the Head box shows one head's
own map instead, and every figure beside it is then that head's.

Attention maps are coloured by default as deviation from uniform attention (a diverging map
centred on 1/keys, marked on the colour bar), and the co-attention's normalised entropy says
in one figure how far from uniform it is: near-uniform weights on a 0..max scale paint one
flat block that says nothing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel,
                               QStackedWidget, QTabWidget, QVBoxLayout, QWidget)

from ...core.evaluation.attention_heads import head_count, head_snapshot
from ...core.evaluation.attention_stats import describe_neighbours, uniform_weight
from ...core.evaluation.pointing import SIDES, patch_halves
from ...core.training.events import AttentionSnapshot, EpochEnded
from ..flow_layout import FlowLayout
from .coattention_figures import figures_text
from .head_picker import HeadPicker
from .heatmap import (CategoryAxis, Heatmap, ImageOverlay, abbreviate, fixed_plot,
                      white_canvas)

WAITING = "Waiting for the first snapshot…"
NO_ATTENTION = ("{run} has no attention to show: pick co-attention, attention or gated "
                "fusion, or the graph algorithm with GAT.")
SECTIONS = ("coattention", "graph", "modality", "self_attention")  # the tabs, in order
SELF_LOOP = " (itself)"  # how the engine labels a graph node's self loop
KIND_COLOURS = {"text": "#1f77b4", "image": "#ff7f0e"}
OVERLAY_ALPHA = 0.55  # enough colour to read the weights, enough image to recognise it
# How attention maps are coloured: (key, what the combo box says); the first is the default.
COLOUR_MODES = (("uniform", "deviation from uniform"), ("zero", "0 to max"),
                ("stretch", "min to max"))


class AttentionView(QWidget):
    """Live attention of the probe samples; feed it with :meth:`set_snapshot`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._snapshot: AttentionSnapshot | None = None
        self._shown: AttentionSnapshot | None = None  # the chosen probe's: real or composite
        self._started = None
        self._probe_keys: list[tuple] = []
        self._token_names: list[str] = []
        self._token = -1  # -1: all words (mean over tokens)
        self._patch: int | None = None  # clicked patch; None: the chosen word's strongest
        self._epoch_weights: dict[str, dict[int, float]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self.patch_words = np.zeros(0, dtype=np.float32)
        self.modality_values = np.zeros(0, dtype=np.float32)
        self.graph_rows: list[tuple[str, str, float]] = []

        self.probe_combo = QComboBox()
        self.probe_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.probe_combo.setMinimumContentsLength(16)  # widens with the view (stretch)
        self.colour_combo = QComboBox()
        for key, text in COLOUR_MODES:
            self.colour_combo.addItem(text, key)
        self.colour_combo.setToolTip(
            "Deviation from uniform: blue below and red above the weight uniform attention "
            "gives every key (1/keys, marked on the colour bar), white at it. 0 to max and "
            "min to max: the weights themselves.")
        self._info = QLabel("")
        header = FlowLayout()  # wraps in a narrow view
        header.add_widgets(QLabel("Probe:"), self.probe_combo)
        header.add_widgets(QLabel("Colours:"), self.colour_combo)
        header.addWidget(self._info)

        self._placeholder = QLabel(WAITING)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._placeholder.setStyleSheet("color: #666; font-size: 13pt;")
        self._tabs = QTabWidget()
        self._tabs.addTab(self._build_coattention(), "Co-attention")
        self._tabs.addTab(self._build_graph(), "Graph")
        self._tabs.addTab(self._build_modality(), "Modality weights")
        self.self_attention = Heatmap(row_title="word", col_title="attends to word",
                                      value_name="attention", nouns=("word", "attends to"),
                                      rotate_columns=True)
        self._tabs.addTab(self.self_attention, "Self-attention")
        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self._tabs)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self._stack, 1)

        self.probe_combo.currentIndexChanged.connect(self._on_probe_changed)
        self.token_combo.currentIndexChanged.connect(self._on_token_changed)
        self.heads.changed.connect(self._on_head_changed)
        self.colour_combo.currentIndexChanged.connect(self._on_colour_mode_changed)
        self.coattention.cell_clicked.connect(self._on_cell_clicked)
        self.overlay.cell_clicked.connect(self._on_overlay_clicked)
        self.reset()

    # -- construction ----------------------------------------------------------------------
    def _build_coattention(self) -> QWidget:
        self.coattention = Heatmap(row_title="word", col_title="image patch (row,col)",
                                   value_name="attention", nouns=("word", "patch"))
        self.token_combo = QComboBox()
        self.heads = HeadPicker()
        self.overlay = ImageOverlay(value_name="attention", alpha=OVERLAY_ALPHA)
        self._patch_title = QLabel("")
        self._patch_title.setWordWrap(True)
        self._patch_axis = CategoryAxis("bottom", rotate=True)
        patch_glw = white_canvas()
        self._patch_plot = fixed_plot(patch_glw, self._patch_axis, "bottom")
        self._patch_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#1f77b4")
        self._patch_plot.addItem(self._patch_bars)
        self._patch_plot.setLabel("left", "weight")
        self._patch_uniform = pg.InfiniteLine(  # named in the title: a label hides a bar
            angle=0, movable=False, pen=pg.mkPen("k", width=1, style=Qt.PenStyle.DashLine))
        self._patch_plot.addItem(self._patch_uniform)
        self.uniformity = QLabel("")
        self.uniformity.setWordWrap(True)
        self.uniformity.setToolTip(
            "Normalised entropy: the entropy of each word's weights over the patches divided "
            "by its largest value, log(patches); the mean over the caption's words. 1: uniform "
            "(the model looks everywhere alike), 0: all on one patch.")

        side = QVBoxLayout()
        word = QLabel("Word drawn over the image (or click a row):")
        word.setWordWrap(True)
        side.addWidget(word)
        side.addWidget(self.token_combo)
        side.addWidget(self.overlay, 3)
        side.addWidget(self._patch_title)
        side.addWidget(patch_glw, 2)
        main = QVBoxLayout()
        main.addWidget(self.heads)
        main.addWidget(self.coattention, 1)
        main.addWidget(self.uniformity)
        page = QWidget()
        row = QHBoxLayout(page)
        row.addLayout(main, 3)
        row.addLayout(side, 2)
        return page

    def _build_modality(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        glw = white_canvas()
        self._modality_axis = CategoryAxis("bottom")
        self._modality_plot = fixed_plot(glw, self._modality_axis, "bottom")
        self._modality_plot.setYRange(0, 1, padding=0.02)
        self._modality_plot.setLabel("left", "weight")
        self._modality_bars = pg.BarGraphItem(x=[], height=[], width=0.6)
        self._modality_plot.addItem(self._modality_bars)
        self._time_plot = fixed_plot(glw, pg.AxisItem("bottom"), "bottom")
        self._time_plot.setLabel("bottom", "epoch")
        self._time_plot.setYRange(0, 1, padding=0.02)
        box.addWidget(glw, 2)
        self.gate = Heatmap(row_title="", col_title="hidden unit", value_name="gate",
                            nouns=("", "unit"))
        box.addWidget(self.gate, 1)
        return page

    def _build_graph(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        legend = " ".join(f"<span style='color:{c}'>■</span> {k}" for k, c in
                          KIND_COLOURS.items())
        about = QLabel("The probe caption node's neighbours, strongest first (GAT: "
                       f"attention of the last layer; GCN: 1/c_ij). Kind: {legend}")
        about.setWordWrap(True)
        box.addWidget(about)
        glw = white_canvas()
        self._graph_axis = CategoryAxis("left", max_chars=48)
        self._graph_plot = fixed_plot(glw, self._graph_axis, "left")
        self._graph_plot.invertY(True)
        self._graph_plot.setLabel("bottom", "weight")
        self._graph_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self._graph_plot.addItem(self._graph_bars)
        box.addWidget(glw, 1)
        self.graph_figures = QLabel()
        self.graph_figures.setWordWrap(True)
        box.addWidget(self.graph_figures)
        return page

    # -- public API ------------------------------------------------------------------------
    def connect_controller(self, controller) -> None:
        controller.started.connect(self.reset)
        controller.attention_updated.connect(self.set_snapshot)
        controller.epochs_ended.connect(self.add_epochs)

    def reset(self, started=None) -> None:
        """Forget everything shown: a new run (``FitStarted``) or none."""
        self._started = started
        self._snapshot = self._shown = None
        self._epoch_weights.clear()
        for curve in self._curves.values():
            curve.setData([], [])
        self._patch = None
        self._token = -1
        self._probe_keys = []
        with QSignalBlocker(self.probe_combo):
            self.probe_combo.clear()
        self._set_tokens([])
        self.heads.sync(0)
        self._info.setText("")
        self.uniformity.setText("")
        self._show_placeholder(WAITING)

    def set_snapshot(self, snapshot: AttentionSnapshot) -> None:
        """Show ``snapshot``, keeping the chosen probe, word and patch where they exist."""
        self._snapshot = snapshot
        self._sync_probes()
        maps = snapshot.maps
        shown = ["text_to_image" in maps, bool(snapshot.graph),
                 "modality_weights" in maps or "gate" in maps, "self_attention" in maps]
        if not any(shown):
            self._show_placeholder(self._no_attention_text())
            return
        for i, on in enumerate(shown):  # Qt moves off a tab that is hidden
            self._tabs.setTabVisible(i, on)
        self._stack.setCurrentIndex(1)
        self._info.setText(f"epoch {snapshot.epoch} · step {snapshot.step}")
        self._draw()

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        """Grow the modality-weight curves with each epoch's validation means."""
        for e in epochs:
            for key, value in e.val.items():
                if key.startswith("weight_"):
                    self._epoch_weights.setdefault(key[len("weight_"):], {})[e.epoch] = value
        for i, (name, points) in enumerate(self._epoch_weights.items()):
            if name not in self._curves:
                colour = KIND_COLOURS.get(name, pg.intColor(i))
                self._curves[name] = self._time_plot.plot(
                    pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                    symbolBrush=colour, symbolPen=None, name=name)
            xs = sorted(points)
            self._curves[name].setData(xs, [points[x] for x in xs])
        # The key in the title, coloured like the bars: a legend box would sit on a curve.
        key = ", ".join(f"<span style='color:{c.opts['pen'].color().name()}'>— {n}</span>"
                        for n, c in self._curves.items())
        self._time_plot.setTitle(f"validation mean per epoch {key}", color="k", size="10pt")
        if self._epoch_weights:  # whole epochs only
            last = max(max(p) for p in self._epoch_weights.values())
            step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9)
                        if last / s <= 10)
            self._time_plot.getAxis("bottom").setTickSpacing(step, step)
        if epochs and self._snapshot is None:
            # Every model with attention reports it after its first step: an epoch without
            # a snapshot means this run has none.
            self._show_placeholder(self._no_attention_text())

    # -- what is displayed (tests read these) ----------------------------------------------
    @property
    def placeholder_text(self) -> str | None:
        return self._placeholder.text() if self._stack.currentIndex() == 0 else None

    def section_visible(self, name: str) -> bool:
        """Whether a section (``SECTIONS``) has data and its tab is offered."""
        return self._stack.currentIndex() == 1 and self._tabs.isTabVisible(SECTIONS.index(name))

    @property
    def current_section(self) -> str | None:
        return SECTIONS[self._tabs.currentIndex()] if self._stack.currentIndex() == 1 else None

    def weight_curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {k: c.getData() for k, c in self._curves.items()}

    @property
    def selected_token(self) -> int:
        return self._token

    def select_token(self, position: int) -> None:
        """Show one word's patch weights (-1: the mean over all words)."""
        i = self.token_combo.findData(position)
        if i >= 0:
            self.token_combo.setCurrentIndex(i)

    def select_patch(self, patch: int) -> None:
        self._patch = patch
        self._draw()

    # -- handlers --------------------------------------------------------------------------
    def _on_probe_changed(self, _index: int) -> None:
        self._patch = None
        self._draw()

    def _on_token_changed(self, index: int) -> None:
        data = self.token_combo.itemData(index)
        self._token = -1 if data is None else int(data)
        self._patch = None
        self._draw()

    def _on_head_changed(self, _head: int) -> None:
        self._patch = None
        self._draw()

    def _on_colour_mode_changed(self, _index: int) -> None:
        self._draw()

    def _on_cell_clicked(self, row: int, col: int) -> None:
        self.select_token(row)
        self.select_patch(col)

    def _on_overlay_clicked(self, row: int, col: int) -> None:
        self.select_patch(row * self._grid()[1] + col)

    # -- drawing ---------------------------------------------------------------------------
    def _show_placeholder(self, text: str) -> None:
        self._placeholder.setText(text)
        self._stack.setCurrentIndex(0)

    def _no_attention_text(self) -> str:
        s = self._started
        run = (f"This run ({s.algorithm}, {s.fusion} fusion)" if s is not None
               else "This algorithm/fusion")
        return NO_ATTENTION.format(run=run)

    def _composites(self) -> list:
        c = self._snapshot.composites if self._snapshot is not None else None
        return c.probes if c is not None else []

    def _sync_probes(self) -> None:
        probes, composites = self._snapshot.probes, self._composites()
        keys = [(p.index, p.caption, p.label, p.captioned) for p in probes + composites]
        if keys == self._probe_keys:
            return
        current = self.probe_combo.currentData()
        self._probe_keys = keys
        with QSignalBlocker(self.probe_combo):
            self.probe_combo.clear()
            for p in probes:
                text = abbreviate(p.caption, 60) + (f"  [{p.label}]" if p.label else "")
                self.probe_combo.addItem(text, p.index)
            for k, p in enumerate(composites):  # data -1, -2, …: never a dataset row
                # the side first: a narrow combo box still shows which emoji is meant
                text = f"composite ({p.captioned}): {abbreviate(p.caption, 48)}"
                self.probe_combo.addItem(text + (f"  [{p.label}]" if p.label else ""), -1 - k)
                tip = (f"Two validation samples of different labels side by side, with the "
                       f"{p.captioned} one's caption: {p.caption}")
                self.probe_combo.setItemData(self.probe_combo.count() - 1, tip,
                                             Qt.ItemDataRole.ToolTipRole)
            i = self.probe_combo.findData(current)
            self.probe_combo.setCurrentIndex(max(i, 0))

    def _probe(self) -> int:
        return max(self.probe_combo.currentIndex(), 0)

    def _selected(self) -> tuple[AttentionSnapshot, int]:
        """The snapshot the chosen probe belongs to (the real probes' or the composites')
        and its row in it."""
        j, n = self._probe(), len(self._snapshot.probes)
        if j >= n and self._composites():
            return self._snapshot.composites, j - n
        return self._snapshot, min(j, max(n - 1, 0))

    @property
    def composite_shown(self) -> bool:
        """Whether the chosen probe is a composite."""
        return self._shown is not None and self._shown is not self._snapshot

    def _words(self, j: int, length: int) -> list[str]:
        """The probe's token names for a map with ``length`` token positions; padding
        positions beyond the caption are dropped."""
        tokens = self._shown.probes[j].tokens
        return list(tokens[:length]) if tokens else [f"token {i}" for i in range(length)]

    def _set_tokens(self, words: list[str]) -> None:
        if words == self._token_names:
            return
        old_word = self._token_names[self._token] if 0 <= self._token < len(
            self._token_names) else None
        self._token_names = list(words)
        with QSignalBlocker(self.token_combo):
            self.token_combo.clear()
            self.token_combo.addItem("all words (mean)", -1)
            for i, w in enumerate(words):
                self.token_combo.addItem(f"{i + 1}. {w}", i)
            if old_word is None or old_word not in words:
                self._token = -1
            elif self._token >= len(words) or words[self._token] != old_word:
                self._token = words.index(old_word)
            self.token_combo.setCurrentIndex(self.token_combo.findData(self._token))

    def _head_view(self, snap: AttentionSnapshot) -> AttentionSnapshot:
        """``snap`` as the chosen head sees it (itself for the mean)."""
        head = self.heads.head
        return head_snapshot(snap, head) if 0 <= head < head_count(snap) else snap

    def _draw(self) -> None:
        if self._snapshot is None or not self._snapshot.probes:
            return
        self._shown, j = self._selected()
        maps = self._shown.maps
        if "text_to_image" in maps:
            self.heads.sync(head_count(self._snapshot))
            self._draw_coattention(j)
        if "self_attention" in maps:
            m = maps["self_attention"][j]
            words = self._words(j, m.shape[0])
            n = len(words)
            self.self_attention.set_data(m[:n, :n], words, words, self._levels(m[:n, :n]),
                                         uniform=uniform_weight(n) if n else None)
        if "modality_weights" in maps or "gate" in maps:
            self._draw_modality(j)
        if self._shown.graph:
            self._draw_graph(j)

    @property
    def colour_mode(self) -> str:
        """How maps are coloured: a key of ``COLOUR_MODES``."""
        return self.colour_combo.currentData() or COLOUR_MODES[0][0]

    def _levels(self, values: np.ndarray) -> tuple[float, float] | None:
        """The colour mode's levels for ``values``; None: the map's default (centred on
        uniform where the map is given it, else 0..max)."""
        mode = self.colour_mode
        if mode == "zero":
            return 0.0, max(float(values.max(initial=0.0)), 1e-9)
        if mode == "stretch" and values.size:
            return float(values.min()), float(values.max())
        return None

    def _grid(self) -> tuple[int, int]:
        """Patch rows x columns of the co-attention maps (one row when the grid is unknown)."""
        patches = self._shown.maps["text_to_image"].shape[-1]
        grid = self._shown.grid
        return tuple(grid) if grid and grid[0] * grid[1] == patches else (1, patches)

    def _patch_names(self, count: int) -> list[str]:
        rows, cols = self._grid()
        return [f"{p // cols},{p % cols}" if rows > 1 else str(p) for p in range(count)]

    def _draw_coattention(self, j: int) -> None:
        t2i = self._head_view(self._shown).maps["text_to_image"][j]
        words = self._words(j, t2i.shape[0])
        t2i = t2i[: len(words)]
        self._set_tokens(words)
        rows, cols = self._grid()
        uniform = uniform_weight(t2i.shape[1])
        self.coattention.set_data(t2i, words, self._patch_names(t2i.shape[1]), self._levels(t2i),
                                  col_period=cols, uniform=uniform)
        weights = (t2i.mean(axis=0) if self._token < 0 else t2i[self._token]).reshape(rows, cols)
        self.coattention.mark_row(None if self._token < 0 else self._token)
        probe = self._shown.probes[j]
        self.overlay.set_data(probe.image, weights, self._levels(weights), uniform=uniform)
        # a composite: outline the half its caption describes, as the pointing game scores it
        half = np.flatnonzero(patch_halves((rows, cols))[SIDES.index(probe.captioned)][:cols]) \
            if probe.captioned in SIDES and rows > 1 else []
        self.overlay.mark_columns((int(half[0]), int(half[-1]) + 1) if len(half) else None)
        self._show_uniformity(j)
        word = "all words" if self._token < 0 else f"'{words[self._token]}'"
        if self._patch is None or self._patch >= t2i.shape[1]:
            self._patch = None
        patch = int(np.argmax(weights)) if self._patch is None else self._patch
        self.overlay.mark(*divmod(patch, cols))
        i2t = self._shown.maps.get("image_to_text")
        if i2t is None:
            self._patch_title.setText(f"{word}: no image-to-text attention in this model")
            self.patch_words = np.zeros(0, dtype=np.float32)
            self._patch_bars.setOpts(x=[], height=[])
            return
        self.patch_words = np.asarray(i2t[j, patch, : len(words)], dtype=np.float32)
        name = self._patch_names(t2i.shape[1])[patch]
        how = "clicked" if self._patch is not None else f"strongest for {word}"
        self._patch_title.setText(f"Words that patch {name} ({how}) attends to "
                                  "(dashed: uniform):")
        self._patch_axis.set_names(words)
        self._patch_bars.setOpts(x=np.arange(len(words)) + 0.5, height=self.patch_words)
        self._patch_uniform.setPos(uniform_weight(len(words)) if words else 0.0)
        self._patch_plot.setXRange(0, max(len(words), 1), padding=0.02)
        top = max(float(self.patch_words.max(initial=0)), uniform_weight(max(len(words), 1)))
        self._patch_plot.setYRange(0, top, padding=0.05)

    def _show_uniformity(self, j: int) -> None:
        """The figures under the heatmap (``coattention_figures``), as the chosen head sees
        the maps."""
        shown = self._head_view(self._shown)
        head = (self.heads.head, head_count(shown)) if shown is not self._shown else None
        self.uniformity.setText(figures_text(shown, self._head_view(self._snapshot), j,
                                             self._token, composite=self.composite_shown,
                                             head=head))

    def _draw_modality(self, j: int) -> None:
        maps, names = self._shown.maps, self._shown.modality_names
        weights = maps.get("modality_weights")
        if weights is not None:
            v = np.asarray(weights[j], dtype=np.float32)
            self.modality_values = v
            labels = [names[i] if i < len(names) else f"modality {i}" for i in range(v.size)]
            self._modality_axis.set_names(labels)
            self._modality_plot.setTitle("this probe: " + ", ".join(
                f"{n} {x:.2f}" for n, x in zip(labels, v)), color="k", size="10pt")
            brushes = [KIND_COLOURS.get(n, pg.intColor(i)) for i, n in enumerate(labels)]
            self._modality_bars.setOpts(x=np.arange(v.size) + 0.5, height=v, brushes=brushes)
            self._modality_plot.setXRange(0, v.size, padding=0.05)
        gate = maps.get("gate")
        self.gate.setVisible(gate is not None)
        if gate is not None:
            g = np.asarray(gate[j], dtype=np.float32)
            g = g[None, :] if g.ndim == 1 else g
            # Two modalities share one sigmoid gate: the first one's share, feature by feature.
            rows = [f"{names[0]} share" if names else "gate"] if g.shape[0] == 1 \
                else names[: g.shape[0]]
            # A gate is a share, not a distribution over keys: no uniform, 0..1 unless stretched.
            self.gate.set_data(g, rows, [str(i) for i in range(g.shape[1])],
                               self._levels(g) if self.colour_mode == "stretch" else (0.0, 1.0))

    def _draw_graph(self, j: int) -> None:
        graph = self._shown.graph
        entry = graph[j] if j < len(graph) else {"neighbours": []}
        rows = sorted(((str(lab), str(kind), float(w)) for lab, kind, w in entry["neighbours"]),
                      key=lambda r: -r[2])
        self.graph_rows = rows
        # Truncation must not hide which bar is the node's own self loop.
        self._graph_axis.set_names([f"itself: {r[0][:-len(SELF_LOOP)]}"
                                    if r[0].endswith(SELF_LOOP) else r[0] for r in rows])
        n = len(rows)
        widths = [r[2] for r in rows]
        brushes = [KIND_COLOURS.get(r[1], "#888888") for r in rows]
        self._graph_bars.setOpts(x0=np.zeros(n), y=np.arange(n) + 0.5, width=widths,
                                 height=0.7, brushes=brushes)
        self._graph_plot.setYRange(0, max(n, 1), padding=0.02)
        self._graph_plot.setXRange(0, max(widths, default=1.0) or 1.0, padding=0.05)
        self.graph_figures.setText(describe_neighbours(rows, graph))


if __name__ == "__main__":  # preview: trains the emoji preset live, e.g. fusion.name=gated
    import sys

    from PySide6.QtWidgets import QApplication

    from ...core.config import apply_overrides
    from ...core.presets import load_preset
    from ..worker import TrainingController

    app = QApplication(sys.argv)
    view = AttentionView()
    view.resize(900, 650)
    view.show()
    cfg = apply_overrides(load_preset("classifier-attention-emoji"),
                          sys.argv[1:] or ["fusion.name=coattention"])
    controller = TrainingController()
    view.connect_controller(controller)
    controller.start(cfg, None)
    app.aboutToQuit.connect(controller.shutdown)
    sys.exit(app.exec())
