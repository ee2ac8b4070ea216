"""The one figure writer: a PNG, written whole, the figure closed, and the version stamp only
where asked for (the experiments' figures are the same bytes on any matplotlib that draws the
same pixels)."""

from __future__ import annotations

from ditgp.models.plotting import pyplot, save_png


def _figure():
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 4])
    return plt, fig


def test_save_png_writes_a_png_closes_the_figure_and_returns_the_name(tmp_path):
    plt, fig = _figure()
    assert save_png(fig, tmp_path / "a.png") == "a.png"
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.number not in plt.get_fignums()
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left behind


def test_the_software_stamp_is_kept_only_when_asked(tmp_path):
    _, fig = _figure()
    save_png(fig, tmp_path / "plain.png")
    _, fig = _figure()
    save_png(fig, tmp_path / "stamped.png", stamp=True)
    assert b"Software" not in (tmp_path / "plain.png").read_bytes()
    assert b"matplotlib" in (tmp_path / "stamped.png").read_bytes()


def test_same_figure_same_bytes_and_tight_crops(tmp_path):
    for name in ("x.png", "y.png"):
        _, fig = _figure()
        save_png(fig, tmp_path / name, dpi=50)
    assert (tmp_path / "x.png").read_bytes() == (tmp_path / "y.png").read_bytes()
    _, fig = _figure()
    save_png(fig, tmp_path / "loose.png", dpi=50, tight=False)
    assert (tmp_path / "loose.png").read_bytes() != (tmp_path / "x.png").read_bytes()
