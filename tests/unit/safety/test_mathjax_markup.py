"""Our HTML outputs (every view's snapshot in the display bundle, the `%load_ext interp_widgets`
displays) sit inside an element MathJax leaves alone, so `$x$` in a token or a name shows as
written. (tests/ui/test_untrusted_text.py checks it with JupyterLab's own MathJax.)"""

import html
import re

from IPython.core.interactiveshell import InteractiveShell

from interp_widgets.sae import ReluSAE
from interp_widgets.tokens import colored_tokens
from interp_widgets.widgets._snapshot import NO_MATHS

MATHS = ["$x$", r" \href{https://example.com}{click}", r" \style{color:red}{big}", " $$y$$"]
IGNORED = re.compile(r'^<div class="[^"]*\btex2jax_ignore\b[^"]*\bmathjax_ignore\b[^"]*">')


def test_a_snapshot_in_the_bundle_is_marked_for_mathjax_to_skip():
    bundle, _ = colored_tokens(MATHS, [1.0, -1.0, 0.5, 0.0])._repr_mimebundle_()
    page = bundle["text/html"]
    assert IGNORED.match(page) and page.endswith("</div>")
    for text in MATHS:
        assert html.escape(text.replace(" ", "\u00b7")) in page  # the text itself, unchanged


def test_a_load_ext_display_is_marked_too():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "interp_widgets")
    try:
        sae = ReluSAE(8, 16, seed=0)
        sae.source = "$x$ " + MATHS[1]
        data, _ = shell.display_formatter.format(sae)
        assert re.match(rf'<div class="iw-describe {NO_MATHS}">', data["text/html"])
        assert html.escape(sae.source) in data["text/html"]
    finally:
        shell.run_line_magic("unload_ext", "interp_widgets")
