"""testbench.tools.cached_build publishes a build with one rename: a complete build another
process published first is kept, an empty cache folder is replaced, a stale one moved aside."""

from __future__ import annotations

from testbench.tools import _publish, cached_build


def _build(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exe").write_text(text)
    return folder


def test_publish_into_the_empty_folder_cache_dir_made(tmp_path):
    d = tmp_path / "key"
    d.mkdir()
    _publish(_build(tmp_path / "tmp1", "mine"), d, d / "exe")
    assert (d / "exe").read_text() == "mine"
    assert not (tmp_path / "tmp1").exists()


def test_a_build_published_first_is_kept(tmp_path):
    d = _build(tmp_path / "key", "theirs")
    _publish(_build(tmp_path / "tmp1", "mine"), d, d / "exe")
    assert (d / "exe").read_text() == "theirs"
    assert not (tmp_path / "tmp1").exists()


def test_a_stale_folder_without_the_executable_is_replaced(tmp_path):
    d = tmp_path / "key"
    d.mkdir()
    (d / "leftover.o").write_text("old")
    _publish(_build(tmp_path / "tmp1", "mine"), d, d / "exe")
    assert (d / "exe").read_text() == "mine"
    assert not (d / "leftover.o").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_cached_build_builds_once(tmp_path):
    calls = []

    def populate(folder):
        calls.append(folder)
        (folder / "exe").write_text("built")

    d = tmp_path / "key"
    exe, seconds = cached_build(d, "exe", populate, what="a test build")
    assert exe.read_text() == "built" and seconds >= 0
    exe2, seconds2 = cached_build(d, "exe", populate)
    assert exe2 == exe and seconds2 == 0.0 and len(calls) == 1
