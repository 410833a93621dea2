#!/usr/bin/env python3
"""draw_figures.py — draws the book's figures of the core ideas as SVG (standard library only).

    python3 tools/figures/draw_figures.py book/img           (make figures) write them
    python3 tools/figures/draw_figures.py --check book/img   (make test) the committed files must
                                                             be exactly what this draws now

Each fig_*.py module returns {file name: Svg}; the M3 sampler plot comes from tools/plot_samplers.py
(it reads the committed golden/m3/samplers.psg). The numbers drawn come from the model's config
(Qwen3-0.6B) and the code's layouts, written out in the modules with where they were read.
"""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))   # tools/, for plot_samplers and atomic_write

import fig_engine  # noqa: E402
import fig_files  # noqa: E402
import fig_maps  # noqa: E402
import fig_model  # noqa: E402
import plot_samplers  # noqa: E402
from atomic_write import replacing  # noqa: E402

SAMPLERS_GOLDEN = os.path.join(ROOT, "golden", "m3", "samplers.psg")


def drawings():
    out = {}
    for module in (fig_files, fig_model, fig_engine, fig_maps):
        for name, svg in module.figures().items():
            out[name] = svg.render()
    out["m3-samplers.svg"] = plot_samplers.draw(plot_samplers.read_psg(SAMPLERS_GOLDEN))
    return out


def main(argv):
    check = len(argv) == 3 and argv[1] == "--check"
    if len(argv) != 2 and not check:
        print("usage: draw_figures.py [--check] OUT_DIR", file=sys.stderr)
        return 2
    out_dir = argv[-1]
    stale = []
    for name, text in sorted(drawings().items()):
        path = os.path.join(out_dir, name)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                stale.append(path)
        else:
            with replacing(path, "w", encoding="utf-8", newline="\n") as f:   # whole or not at all
                f.write(text)
            print("wrote", path)
    if stale:
        print("figures differ from what tools/figures/draw_figures.py draws now (run `make figures` and "
              "commit): " + " ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
