"""Folder runs people can rely on: recursion with the layout kept, resume after SIGKILL with
--skip-existing, torchrun sharding, target sizes and restoration at scale 1."""

import os
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sisr.cli import main
from sisr.resize import imresize

MODEL = ["--model", "rrgan-x4", "--scale", "2", "--quiet"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photo):
    root = tmp_path_factory.mktemp("tree") / "in"
    for k in range(24):
        sub = root / ("a" if k < 12 else "b/c")
        sub.mkdir(parents=True, exist_ok=True)
        y, x = 8 * k, 5 * k
        Image.fromarray(photo[y : y + 96, x : x + 96]).save(sub / f"img{k:02d}.png")
    return root


@pytest.fixture(scope="module")
def reference(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    assert main(["upscale", str(tree), "-o", str(out), *MODEL]) == 0
    return out


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(folder)): np.asarray(Image.open(p)) for p in sorted(folder.rglob("*.png"))}


def test_folder_is_walked_recursively_with_the_layout_kept(reference):
    names = sorted(outputs(reference))
    assert len(names) == 24
    assert "a/img00_x2.png" in names and "b/c/img23_x2.png" in names


def _cli(*args, env=None):
    return [sys.executable, "-m", "sisr", *map(str, args)]


def test_sigkill_then_skip_existing_gives_the_uninterrupted_result(tree, reference, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_cli("upscale", tree, "-o", out, *MODEL), env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("*_x2.png"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.rglob("*_x2.png")))
    assert 3 <= done_before < 24, "the run was not interrupted part-way"
    r = subprocess.run(
        _cli("upscale", tree, "-o", out, *MODEL, "--skip-existing"), env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert f"{done_before} of 24 outputs exist already" in r.stderr
    got, ref = outputs(out), outputs(reference)
    assert sorted(got) == sorted(ref)
    assert all(np.array_equal(got[k], ref[k]) for k in ref)
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix != ".png"]  # no temporary file left


def test_torchrun_with_two_processes_writes_the_same_files(tree, reference, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0"]
    cmd += ["-m", "sisr", "upscale", str(tree), "-o", str(out), *MODEL]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "rank 1 of 2: 12 of 24 images" in r.stderr
    got, ref = outputs(out), outputs(reference)
    assert sorted(got) == sorted(ref) and all(np.array_equal(got[k], ref[k]) for k in ref)


def test_width_height_and_scale_1(tmp_path, photo):
    src = tmp_path / "p.png"
    Image.fromarray(photo[:60, :80]).save(src)
    assert (
        main(["upscale", str(src), "-o", str(tmp_path / "w.png"), "--model", "bicubic", "--width", "200", "--quiet"])
        == 0
    )
    assert Image.open(tmp_path / "w.png").size == (200, 150)
    # bicubic to a width is one resize, not its x8 and then another (8 levels off at 150 x 112)
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "bicubic", "--width", "150"]) == 0
    direct = np.clip(imresize(photo[:60, :80] / 255.0, size=(112, 150)), 0, 1) * 255
    assert np.abs(np.asarray(Image.open(tmp_path / "b.png")) - direct).max() <= 0.5 + 1e-3
    assert (
        main(["upscale", str(src), "-o", str(tmp_path / "wh.png"), "--width", "100", "--height", "50", "--quiet"]) == 0
    )
    assert Image.open(tmp_path / "wh.png").size == (100, 50)
    assert main(["upscale", str(src), "-o", str(tmp_path / "r.png"), "--scale", "1", "--quiet"]) == 0
    assert Image.open(tmp_path / "r.png").size == (80, 60)
    assert main(["upscale", str(src), "-o", str(tmp_path / "bad.png"), "--width", "0", "--quiet"]) == 2
    assert main(["upscale", str(src), "-o", str(tmp_path / "bad.png"), "--scale", "1", "--width", "50"]) == 2
    assert not (tmp_path / "bad.png").exists()


def test_a_fractional_scale_is_the_model_s_next_scale_then_a_resize(tmp_path, photo, capsys):
    """--scale 2.5 (Real-ESRGAN's --outscale): rrgan-x4 runs x4, then the result is resized to 2.5
    times the input, each side rounded half up; bicubic resizes once, as MATLAB's imresize."""
    import sisr
    from sisr.api import resize_data, scaled_size, upscale_data
    from sisr.infer import load_model
    from sisr.io import read_image

    src = tmp_path / "p.png"
    Image.fromarray(photo[:33, :41]).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--scale", "2.5", "--model", "rrgan-x4"]) == 0
    assert "(rrgan-x4, x4 resized to x2.5)" in capsys.readouterr().out
    got = np.asarray(Image.open(tmp_path / "out" / "p_x2.5.png"))
    assert scaled_size(41, 33, 2.5) == (103, 83) and got.shape == (83, 103, 3)  # 102.5 and 82.5, half up
    data = read_image(src)
    ref = resize_data(upscale_data(data, load_model("rrgan-x4", 4)), (103, 83)).pixels
    assert np.array_equal(got, np.round(ref * 255).astype(np.uint8))
    api = sisr.upscale(photo[:33, :41], "rrgan-x4", 2.5)
    assert api.shape == (83, 103, 3) and np.abs(np.round(api * 255) - got).max() == 0
    assert sisr.upscale(photo[:33, :41], "rrgan-x4", 1).shape == (33, 41, 3)  # restores, as --scale 1
    sized = sisr.upscale(photo[:33, :41], "rrgan-x4", 4, size=(103, None))  # as --width 103
    assert sized.shape == (83, 103, 3) and np.array_equal(sized, api)
    with pytest.raises(sisr.SisrError, match="scale 2.5 sets the result's size"):
        sisr.upscale(photo[:33, :41], "rrgan-x4", 2.5, size=(50, 40))
    # the smallest scale above: rrgan-x234 runs x2 for 1.5 and x3 for 2.5
    assert main(["upscale", str(src), "-o", str(tmp_path / "x234"), "--model", "rrgan-x234", "--scale", "x1.5"]) == 0
    assert "(rrgan-x234, x2 resized to x1.5)" in capsys.readouterr().out
    assert Image.open(tmp_path / "x234" / "p_x1.5.png").size == (62, 50)
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "bicubic", "--scale", "2.5"]) == 0
    assert "(bicubic, x2.5)\n" in capsys.readouterr().out  # one resize, not x3 and another
    direct = np.clip(imresize(data.pixels.astype(np.float64), size=(83, 103)), 0, 1)
    assert np.abs(np.asarray(Image.open(tmp_path / "b.png")) - direct * 255).max() <= 0.5 + 1e-3
    # an earlier result at a fractional scale, beside its input, is not an input
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo[:16, :16]).save(photos / "a.png")
    run = ["upscale", str(photos), "-o", str(photos), "--model", "bicubic", "--quiet", "--scale"]
    assert main([*run, "2.5"]) == 0 and main([*run, "2"]) == 0
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "a_x2.5.png", "a_x2.png"]
    assert "1 earlier result left out (a_x2.5.png)" in capsys.readouterr().err
    for flags, message in [
        (["--scale", "4.5"], "upscales at most x4, not x4.5; models that do x5: bicubic"),
        (["--scale", "2.5", "--width", "50"], "scale 2.5 sets the result's size: a width or height does not apply"),
        (["--scale", "0.5"], "argument --scale: must be a number, 1 or more"),
        (["--scale", "nan"], "argument --scale: must be a number, 1 or more"),
        (["--scale", "xx4"], "argument --scale: must be a number, 1 or more"),
    ]:
        with pytest.raises(SystemExit) if "argument" in message else nullcontext():
            assert main(["upscale", str(src), "-o", str(tmp_path / "bad.png"), *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad.png").exists()


def test_a_folder_run_ends_with_its_total_time(tmp_path, photo, capsys):
    import re

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(photo[:16, :16]).save(src / name)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(r"sisr: 2 results written in \d+\.\d s \(\d+\.\d\d s an image\)", err[-1]), err
    assert main(["upscale", str(src / "a.png"), "-o", str(tmp_path / "one.png"), "--model", "bicubic"]) == 0
    assert "written in" not in capsys.readouterr().err  # one image: its line says it all


def test_the_python_api_runs_a_folder_as_the_cli_does(tree, reference, tmp_path):
    import sisr

    out = tmp_path / "out"
    first = sisr.upscale_folder(tree / "a", out, "rrgan-x4", 2)  # half the tree, then all of it, resumed
    assert len(first) == 12 and not any(o.error for o in first)
    (tree / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    try:
        got = sisr.upscale_folder([tree / "a", tree / "b"], out, "rrgan-x4", 2, skip_existing=True)
    finally:
        (tree / "b" / "broken.png").unlink()
    assert len(got) == 13  # the 12 of a/ exist already; the broken file fails and the run goes on
    bad = [o for o in got if o.error]
    assert len(bad) == 1 and bad[0].src.name == "broken.png" and "\n" not in bad[0].error
    written = {str(p.relative_to(out)): np.asarray(Image.open(p)) for p in sorted(out.rglob("*.png"))}
    ref = outputs(reference)
    # the layout is that of each input folder: a/'s images at the top, b/'s under c/
    assert {k.split("/")[-1] for k in written} == {k.split("/")[-1] for k in ref}
    assert all(np.array_equal(written[k], ref[f"a/{k}"]) for k in written if "/" not in k)
    assert all(np.array_equal(written[k], ref[f"b/{k}"]) for k in written if k.startswith("c/"))


def test_suffix_names_the_results_and_what_it_cannot_do_is_refused(tmp_path, photo, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(photo[:16, :16]).save(src / "a.png")
    Image.fromarray(photo[:16, :16]).save(src / "sub" / "b.jpg")
    bic = ["--model", "bicubic", "--scale", "2", "--quiet"]
    assert main(["upscale", str(src), "-o", str(tmp_path / "same"), *bic, "--suffix", ""]) == 0
    assert sorted(str(p.relative_to(tmp_path / "same")) for p in (tmp_path / "same").rglob("*.*")) == [
        "a.png",
        "sub/b.jpg",
    ]
    assert main(["upscale", str(src), "-o", str(tmp_path / "big"), *bic, "--suffix=-big"]) == 0
    assert sorted(p.name for p in (tmp_path / "big").rglob("*.*")) == ["a-big.png", "b-big.jpg"]
    capsys.readouterr()
    refused = [
        ([str(src), "-o", str(src), "--suffix", ""], "its result would replace it"),  # onto the inputs
        ([str(src), "-o", str(tmp_path / "x"), "--suffix", "a/b"], "no / or"),
        ([str(src / "a.png"), "-o", str(tmp_path / "one.png"), "--suffix", "_2"], "-o names the one result"),
        ([str(src), "-o", str(tmp_path / "one.png")], "2 inputs need an output folder, and this names an image file"),
    ]
    for args, message in refused:
        assert main(["upscale", *args, *bic]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "one.png").exists()
    assert sorted(p.name for p in src.rglob("*.*")) == ["a.png", "b.jpg"]  # nothing written beside them
    # a trailing slash names a folder, whatever its suffix: "results.v2/" was an unknown image format
    for folder in ("results.v2", "shots.png"):
        assert main(["upscale", str(src / "a.png"), "-o", str(tmp_path / folder) + "/", *bic]) == 0
        assert (tmp_path / folder / "a_x2.png").is_file()
    assert main(["upscale", str(src), "-o", str(tmp_path / "all.png") + "/", *bic]) == 0
    assert (tmp_path / "all.png" / "sub" / "b_x2.jpg").is_file()


def test_dry_run_says_what_would_be_written_and_refused_and_writes_nothing(tmp_path, photo, capsys):
    src = tmp_path / "in"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned: 20 x 16 stored, 16 x 20 read
    Image.fromarray(photo[:16, :20]).save(src / "turned.jpg", exif=exif.tobytes())
    frames = [Image.fromarray(np.roll(photo[:16, :16], 3 * i, axis=1)) for i in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "out"
    args = ["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quiet", "--dry-run"]
    assert main(args) == 1  # the broken file would fail
    said = capsys.readouterr()
    assert f"{src / 'turned.jpg'} -> {out / 'turned_x2.jpg'} (16 x 20 -> 32 x 40, bicubic)" in said.out
    assert f"{out / 'anim_x2.gif'} (16 x 16 -> 32 x 32, bicubic)" in said.out
    assert "broken.png: not a readable image" in said.err and "1 of 3 images would fail" in said.err
    assert "dry run: 2 results would be written; nothing was" in said.err
    assert not out.exists()
    assert main([*args[:-1], "--format", "jpg", "--width", "70000", "--dry-run"]) == 1  # what the run would refuse
    err = capsys.readouterr().err
    assert "anim_x2.jpg: 3 frames, and .jpg holds one" in err and "over JPEG's limit of 65535" in err
    for stale in ("turned_x2.jpg",):  # an output that exists is named, as the run would
        out.mkdir(exist_ok=True)
        (out / stale).write_bytes(b"x")
    assert main(args) == 1 and "turned_x2.jpg: exists (use --overwrite" in capsys.readouterr().err
    assert main([*args[:-1], "--overwrite"]) == 1  # the run itself: the sizes the dry run said
    assert Image.open(out / "turned_x2.jpg").size == (32, 40) and Image.open(out / "anim_x2.gif").size == (32, 32)


def test_a_folder_inside_a_hidden_one_is_walked_and_its_raw_files_are_named(tmp_path, photo, capsys):
    src = tmp_path / ".cache" / "photos"  # a hidden folder above the input does not hide its files
    (src / ".thumbs").mkdir(parents=True)
    Image.fromarray(photo[:16, :16]).save(src / "a.jpg")
    Image.fromarray(photo[:16, :16]).save(src / ".thumbs" / "a.jpg")  # hidden inside it: left out
    for raw in ("a.NEF", "b.nef", "c.dng", ".d.cr2"):
        (src / raw).write_bytes(b"II*\x00")
    out = tmp_path / "out"
    assert main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a_x2.jpg"]
    err = capsys.readouterr().err
    assert "3 camera raw files (.dng, .nef) left out; develop them to TIFF or JPEG first" in err, err
    (src / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # a phone's folder: a video beside the photos
    glob_out = tmp_path / "glob"
    assert main(["upscale", str(src / "*"), "-o", str(glob_out), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    assert sorted(p.name for p in glob_out.iterdir()) == ["a_x2.jpg"]
    assert "*: 3 camera raw files (.dng, .nef) left out" in capsys.readouterr().err
    assert main(["upscale", str(src / "*.nef"), "-o", str(glob_out), "--model", "bicubic", "--quiet"]) == 2
    said = (
        "*.nef: matches 1 file, none an image sisr reads (1 camera raw file (.nef): develop them to TIFF or JPEG first)"
    )
    assert capsys.readouterr().err.strip().endswith(said)
    assert main(["upscale", str(src / "*.mp4"), "-o", str(glob_out), "--model", "bicubic", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith("*.mp4: matches 1 file, none an image sisr reads")


def test_a_result_too_large_for_the_free_memory_is_refused_before_the_work(tmp_path, photo, capsys, monkeypatch):
    import sisr.api

    src = tmp_path / "p.png"
    Image.fromarray(photo[:60, :80]).save(src)
    monkeypatch.setattr(sisr.api, "known_free_memory", lambda: 100 * 150 * 3 * 10)  # a 100 x 75 result fits
    assert main(["upscale", str(src), "-o", str(tmp_path / "ok.png"), "--model", "bicubic", "--width", "100"]) == 0
    capsys.readouterr()
    for extra in ([], ["--dry-run"]):
        args = ["upscale", str(src), "-o", str(tmp_path / "big.png"), "--model", "bicubic", "--width", "200", *extra]
        assert main(args) == 2
        err = capsys.readouterr().err
        said = "a 200 x 150 result needs about 0.000838 GiB of memory, and 0.000419 GiB is free"
        assert err.strip().splitlines() == [f"sisr: error: {tmp_path / 'big.png'}: {said}"], err
    assert not (tmp_path / "big.png").exists()
    # a result resized down is first the model's own output: x1.5 from x2 (120 x 90 fits, 160 x 120 not)
    monkeypatch.setattr(sisr.api, "known_free_memory", lambda: 400_000)
    for flags in (["--scale", "1.5"], ["--scale", "2", "--width", "120"]):
        assert main(["upscale", str(src), "-o", str(tmp_path / "down.png"), "--quiet", *flags]) == 2
        said = "a 160 x 120 x2 output (resized after) needs about 0.000536 GiB of memory, and 0.000373 GiB is free"
        assert capsys.readouterr().err.strip().endswith(said)
    assert main(["upscale", str(src), "-o", str(tmp_path / "down.png"), "--model", "bicubic", "--scale", "1.5"]) == 0
    monkeypatch.setattr(sisr.api, "known_free_memory", lambda: None)  # not known (macOS): nothing refused
    assert main(["upscale", str(src), "-o", str(tmp_path / "big.png"), "--model", "bicubic", "--width", "200"]) == 0


def test_the_memory_a_result_needs_counts_its_alpha(tmp_path, photo, capsys, monkeypatch):
    import sisr.api

    rgba = np.dstack([photo[:60, :80], np.full((60, 80), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(photo[:60, :80]).save(tmp_path / "rgb.png")
    monkeypatch.setattr(sisr.api, "known_free_memory", lambda: 100 * 75 * 3 * 10)  # RGB 100 x 75 fits; RGBA not
    width = ["--model", "bicubic", "--width", "100", "--quiet"]
    assert main(["upscale", str(tmp_path / "rgb.png"), "-o", str(tmp_path / "rgb_big.png"), *width]) == 0
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "a_big.png"), *width]) == 2
    assert "a 100 x 75 result needs about 0.000279 GiB of memory" in capsys.readouterr().err
    assert not (tmp_path / "a_big.png").exists()


def test_a_glob_takes_any_image_pillow_opens(tmp_path, photo):
    for name in ("a.pgm", "b.tga", "notes.txt"):
        if name.endswith(".txt"):
            (tmp_path / name).write_text("not an image")
        else:
            Image.fromarray(photo[:16, :16, 0]).save(tmp_path / name)
    out = tmp_path / "out"
    assert main(["upscale", str(tmp_path / "*"), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "b_x2.png"]


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(tmp_path, photo, capsys):
    """`sisr upscale photos/ -o photos/big/`, run again with --skip-existing to resume: the results
    already in photos/big/ are not enlarged again into photos/big/big/."""
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(photo[:16, :16]).save(src / "a.png")
    args = ["upscale", str(src), "-o", str(src / "big"), "--model", "bicubic", "--scale", "2", "--quiet"]
    assert main(args) == 0 and main([*args, "--skip-existing"]) == 0 and main([*args, "--overwrite"]) == 0
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*.png")) == ["a.png", "big/a_x2.png"]
    beside = ["upscale", str(src), "-o", str(src), "--model", "bicubic", "--scale", "2", "--quiet"]  # results beside
    assert main(beside) == 0 and main([*beside, "--skip-existing"]) == 0 and main([*beside, "--overwrite"]) == 0
    assert sorted(p.name for p in src.glob("*.png")) == ["a.png", "a_x2.png"]  # not a_x2_x2.png
    assert main([*beside, "--suffix", ""]) == 2  # a result that would replace its input: still refused
    assert "its result would replace it" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path, photo, capsys, monkeypatch):
    import sisr.api
    import sisr.atomic

    src = tmp_path / "p.png"
    Image.fromarray(photo[:16, :16]).save(src)

    def no_work(*a, **k):
        raise AssertionError("the image was run before the output was checked")

    monkeypatch.setattr(sisr.api, "upscale_file", no_work)
    assert main(["upscale", str(src), "-o", str(src / "x.png"), "--model", "bicubic", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"sisr: error: {src / 'x.png'}: cannot write ({src} is a file, not a folder)", err
    monkeypatch.setattr(sisr.atomic.os, "access", lambda path, mode: False)  # as a read-only folder, for any user
    assert main(["upscale", str(src), "-o", str(tmp_path / "new" / "x.png"), "--model", "bicubic", "--quiet"]) == 2
    assert f"cannot write (no permission to write in {tmp_path})" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_link_to_no_file_in_a_folder_is_said(tmp_path, photo, capsys):
    """A folder of links (a photo library moved, a drive not mounted) lost those images without a word."""
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(photo[:40, :48]).save(src / "a.png")
    for name in ("b.jpg", "c.png"):
        (src / name).symlink_to(tmp_path / "elsewhere" / name)
    (src / "notes.txt").symlink_to(tmp_path / "gone.txt")  # not an image: nothing to say
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--model", "bicubic", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"sisr: warning: {src}: 2 links to no file left out (b.jpg, ...)" in err and "notes" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x4.png"]


def test_results_of_another_scale_beside_their_inputs_are_not_enlarged_again(tmp_path, photo, capsys):
    """Runs at x2, then x4, into the photos' own folder: the second enlarged the first's a_x2.png
    into a_x2_x4.png. A file named on its own is still taken as it is."""
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(photo[:16, :16]).save(src / "a.png")
    Image.fromarray(photo[:16, :16]).save(src / "b.jpg")
    run = ["upscale", str(src), "-o", str(src), "--model", "bicubic", "--quiet", "--scale"]
    assert main([*run, "2"]) == 0 and main([*run, "4"]) == 0 and main([*run, "3", "--format", "webp"]) == 0
    # Results in a format this run does not write are results all the same (a_x3.webp at x8 in PNG).
    assert main([*run, "8"]) == 0
    assert sorted(p.name for p in src.iterdir()) == [
        "a.png",
        "a_x2.png",
        "a_x3.webp",
        "a_x4.png",
        "a_x8.png",
        "b.jpg",
        "b_x2.jpg",
        "b_x3.webp",
        "b_x4.jpg",
        "b_x8.jpg",
    ]
    err = capsys.readouterr().err
    assert "sisr: warning: 2 earlier results left out (a_x2.png, b_x2.jpg): named as results" in err
    assert "4 earlier results left out (a_x2.png, a_x4.png, ...)" in err
    assert "6 earlier results left out (a_x2.png, a_x3.webp, ...)" in err
    out = tmp_path / "out"
    assert main(["upscale", str(src / "a_x2.png"), "-o", str(out / "one.png"), "--model", "bicubic", "--quiet"]) == 0
    assert "earlier result" not in capsys.readouterr().err
