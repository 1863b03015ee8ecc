"""Animated GIF, PNG (APNG) and WebP: read as the frames a viewer shows, upscaled frame by frame,
written with their timing, loop count and transparency; what cannot hold them is refused."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sisr.api import load_upscaler, upscale_data, upscale_file, upscale_folder
from sisr.errors import SisrError
from sisr.io import (
    ImageData,
    animation_frames,
    read_animation,
    read_image,
    result_suffix_of,
    set_pixel_limit,
    to_uint8,
    write_animation,
    write_image,
)

DURATIONS = [80, 120, 160, 200]


def frames_of(photo, n=4, alpha=False) -> list[np.ndarray]:
    """A photo crop with a bright square moving across it: most of each frame stays still."""
    out = []
    for i in range(n):
        f = photo[100:140, 180:228].copy()
        f[8:16, 4 + 8 * i : 12 + 8 * i] = (250, 40, 30)
        if alpha:
            a = np.full(f.shape[:2], 255, np.uint8)
            a[:, :6] = 0  # a transparent band on the left
            f = np.concatenate([f, a[:, :, None]], axis=2)
        out.append(f)
    return out


def save_animation(path, frames, **kw):
    ims = [Image.fromarray(f) for f in frames]
    extra = {"lossless": True} if path.suffix == ".webp" else {}
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=DURATIONS[: len(frames)], **extra, **kw)
    return path


def shown(path) -> list[np.ndarray]:
    """Each frame as Pillow shows it, RGBA."""
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGBA")))
    return out


@pytest.fixture(scope="module")
def bicubic2():
    return load_upscaler("bicubic", 2)


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_frames_are_read_whole_with_their_timing(tmp_path, photo, fmt):
    frames = frames_of(photo)
    f = save_animation(tmp_path / f"a.{fmt}", frames, loop=3)  # the encoders store only what changes
    assert animation_frames(f) == 4
    anim = read_animation(f)
    assert (anim.format, anim.durations, anim.loop) == (fmt.upper(), DURATIONS, 3)
    for got, want in zip(anim.frames, frames):
        assert got.shape == want.shape
        tol = 12 if fmt == "gif" else 0  # GIF: 256 colours
        assert np.abs(got.astype(int) - want).mean() <= tol


def test_a_gif_without_a_loop_field_plays_once(tmp_path, photo):
    f = save_animation(tmp_path / "once.gif", frames_of(photo))
    assert read_animation(f).loop is None
    out = write_animation(tmp_path / "o.gif", (read_animation(f).frame(i) for i in range(4)), DURATIONS, None)
    assert "loop" not in Image.open(out).info
    out = write_animation(tmp_path / "o.webp", (read_animation(f).frame(i) for i in range(4)), DURATIONS, None)
    assert Image.open(out).info["loop"] == 0  # WebP has no "once" without a count: 0 is its default


def test_a_still_image_is_not_an_animation(tmp_path, photo):
    Image.fromarray(photo[:20, :20]).save(tmp_path / "s.gif")
    (tmp_path / "junk.gif").write_bytes(b"GIF89a not really")
    assert animation_frames(tmp_path / "s.gif") == 0 and animation_frames(tmp_path / "junk.gif") == 0
    with pytest.raises(SisrError, match="not an animated"):
        read_animation(tmp_path / "s.gif")
    assert result_suffix_of(tmp_path / "s.gif") == ".png"  # a still GIF's result is PNG, as before


def test_read_image_still_refuses_an_animation_and_says_what_takes_it(tmp_path, photo):
    f = save_animation(tmp_path / "a.gif", frames_of(photo))
    with pytest.raises(SisrError, match="4 frames .animated; sisr upscale enlarges it frame by frame"):
        read_image(f)


@pytest.mark.parametrize("src_fmt", ["gif", "png", "webp"])
@pytest.mark.parametrize("dst_fmt", ["png", "webp"])
def test_each_frame_is_upscaled_as_a_still_would_be(tmp_path, photo, bicubic2, src_fmt, dst_fmt):
    f = save_animation(tmp_path / f"a.{src_fmt}", frames_of(photo), loop=0)
    out = upscale_file(f, tmp_path / f"out.{dst_fmt}", bicubic2)
    anim = read_animation(f)
    got = shown(out)
    assert len(got) == 4 and Image.open(out).n_frames == 4
    for i, frame in enumerate(got):
        still = upscale_data(anim.frame(i), bicubic2)
        want = to_uint8(still.pixels)
        assert frame.shape == (80, 96, 4)
        np.testing.assert_array_equal(frame[:, :, :3], want)  # lossless outputs: exactly the still's
    back = read_animation(out)
    assert (back.durations, back.loop) == (DURATIONS, 0)


def test_an_animated_gif_stays_a_gif(tmp_path, photo, bicubic2):
    f = save_animation(tmp_path / "a.gif", frames_of(photo), loop=0, comment=b"made by hand")
    assert result_suffix_of(f) == ".gif"
    out = upscale_file(f, tmp_path / "a_x2.gif", bicubic2)
    im = Image.open(out)
    assert (im.format, im.n_frames, im.size) == ("GIF", 4, (96, 80))
    assert im.info["loop"] == 0 and im.info["comment"] == b"made by hand"
    assert read_animation(out).durations == DURATIONS


def test_a_gif_result_is_close_and_its_still_parts_do_not_flicker(tmp_path, photo, bicubic2):
    f = save_animation(tmp_path / "a.png", frames_of(photo), loop=0)  # lossless: still parts equal
    got = shown(upscale_file(f, tmp_path / "a_x2.gif", bicubic2))
    lossless = shown(upscale_file(f, tmp_path / "a_x2.png", bicubic2))
    for g, p in zip(got, lossless):
        assert np.abs(g.astype(int) - p).mean() < 4  # 256 colours
    # below the moving square every frame is the same: one palette, no error diffusion
    still = [g[40:] for g in got]
    assert all(np.array_equal(still[0], s) for s in still[1:])


def test_transparency_is_kept_and_gif_keeps_it_as_one_entry(tmp_path, photo, bicubic2):
    f = save_animation(tmp_path / "t.png", frames_of(photo, alpha=True), loop=0)
    for fmt in ("png", "webp", "gif"):
        got = shown(upscale_file(f, tmp_path / f"out.{fmt}", bicubic2))
        for frame in got:
            assert (frame[:, :8, 3] == 0).all() and (frame[:, 16:, 3] == 255).all()
            if fmt == "gif":
                assert set(np.unique(frame[:, :, 3])) == {0, 255}


@pytest.mark.parametrize("name", ["x.jpg", "x.tif", "x.bmp"])
def test_a_format_of_one_frame_is_refused_before_any_work(tmp_path, photo, bicubic2, name):
    f = save_animation(tmp_path / "a.gif", frames_of(photo))
    with pytest.raises(SisrError, match=r"4 frames, and \.\w+ holds one; write \.gif, \.webp or \.png"):
        upscale_file(f, tmp_path / name, bicubic2)
    assert not (tmp_path / name).exists()


def test_a_zero_shot_model_is_refused(tmp_path, photo):
    f = save_animation(tmp_path / "a.gif", frames_of(photo))
    with pytest.raises(SisrError, match="animation of 4 frames; drsingan trains on each image"):
        upscale_file(f, tmp_path / "o.gif", load_upscaler("drsingan", 2))


def test_all_frames_count_against_the_pixel_limit(tmp_path, photo):
    f = save_animation(tmp_path / "a.gif", frames_of(photo))  # 4 frames of 48 x 40
    old = Image.MAX_IMAGE_PIXELS
    try:
        set_pixel_limit(5000)
        with pytest.raises(SisrError, match="4 frames of 48 x 40 are over the limit of 5000 pixels"):
            read_animation(f)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def test_size_restore_and_strip_metadata_apply_to_every_frame(tmp_path, photo, bicubic2):
    f = save_animation(tmp_path / "a.gif", frames_of(photo), comment=b"secret")
    sized = Image.open(upscale_file(f, tmp_path / "w.gif", bicubic2, size=(60, None), strip_metadata=True))
    assert sized.size == (60, 50) and sized.n_frames == 4 and "comment" not in sized.info
    restored = Image.open(upscale_file(f, tmp_path / "r.webp", bicubic2, restore=True))
    assert restored.size == (48, 40) and restored.n_frames == 4


def test_progress_counts_the_tiles_of_all_frames(tmp_path, photo):
    f = save_animation(tmp_path / "a.png", frames_of(photo))
    up = load_upscaler("rrgan-x4", 2, tile=32, overlap=8)
    seen = []
    upscale_file(f, tmp_path / "o.png", up, on_tile=lambda done, total: seen.append((done, total)))
    totals = {t for _, t in seen}
    assert len(totals) == 1 and seen[-1][0] == seen[-1][1] == totals.pop()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 8  # 4 frames of 2+ tiles


def test_a_failing_frame_leaves_no_file(tmp_path, photo):
    def frames():
        yield ImageData(np.zeros((8, 8, 3), np.float32))
        raise SisrError("stopped")

    with pytest.raises(SisrError, match="stopped"):
        write_animation(tmp_path / "o.gif", frames(), [100, 100])
    assert list(tmp_path.iterdir()) == []


def test_a_still_can_be_written_as_a_gif(tmp_path, photo):
    out = write_image(tmp_path / "s.gif", photo[:64, :64])
    im = Image.open(out)
    assert im.format == "GIF" and im.mode == "P" and getattr(im, "n_frames", 1) == 1
    assert np.abs(np.asarray(im.convert("RGB")).astype(int) - photo[:64, :64]).mean() < 2


def test_gif_pixels_take_their_exact_nearest_palette_colour(rng):
    from sisr.io import _nearest_colour

    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    palette = rng.integers(0, 256, (37, 3), dtype=np.uint8)
    d = ((rgb[:, :, None, :].astype(int) - palette[None, None].astype(int)) ** 2).sum(axis=3)
    got = _nearest_colour(rgb, palette)
    np.testing.assert_array_equal(d[np.arange(40)[:, None], np.arange(50), got], d.min(axis=2))


def test_cli_and_folder_walk_take_animations(tmp_path, photo):
    folder = tmp_path / "in"
    folder.mkdir()
    save_animation(folder / "a.gif", frames_of(photo), loop=0)
    Image.fromarray(photo[:20, :20]).save(folder / "still.gif")
    out = upscale_folder(folder, tmp_path / "out", "bicubic", 2)
    assert sorted(o.dst.name for o in out if not o.error) == ["a_x2.gif", "still_x2.png"]
    assert Image.open(tmp_path / "out" / "a_x2.gif").n_frames == 4
    cli = [sys.executable, "-m", "sisr", "upscale", str(folder / "a.gif"), "--model", "bicubic", "--scale", "2"]
    r = subprocess.run([*cli, "-o", str(tmp_path / "x.jpg")], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("holds one; write .gif, .webp or .png (APNG)")
    r = subprocess.run([*cli, "--format", "webp", "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "o" / "a_x2.webp").n_frames == 4
    piped = subprocess.run(
        [sys.executable, "-m", "sisr", "upscale", "-", "-o", "-", "--model", "bicubic", "--scale", "2"],
        input=(folder / "a.gif").read_bytes(),
        capture_output=True,
    )
    assert piped.returncode == 0, piped.stderr
    im = Image.open(io.BytesIO(piped.stdout))
    assert (im.format, im.n_frames) == ("GIF", 4)  # stdin to stdout: an animated GIF stays one


def test_an_apng_default_image_is_not_a_frame(tmp_path, photo, bicubic2):
    frames = frames_of(photo, 3)
    ims = [Image.fromarray(f) for f in frames]
    f = tmp_path / "d.png"  # frame 0 is only for viewers that do not animate
    ims[0].save(f, save_all=True, append_images=ims[1:], default_image=True, duration=100, loop=0)
    assert animation_frames(f) == 2
    anim = read_animation(f)
    assert [a.tobytes() for a in anim.frames] == [frames[1].tobytes(), frames[2].tobytes()]
    assert Image.open(upscale_file(f, tmp_path / "o.gif", bicubic2)).n_frames == 2


@pytest.mark.parametrize("fmt", ["webp", "png"])
def test_colour_profile_and_exif_of_an_animation_are_carried(tmp_path, photo, bicubic2, fmt):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"  # Artist
    f = save_animation(tmp_path / f"a.{fmt}", frames_of(photo), loop=0, icc_profile=icc, exif=exif.tobytes())
    out = Image.open(upscale_file(f, tmp_path / f"o.{fmt}", bicubic2))
    assert out.n_frames == 4 and out.info.get("icc_profile") == icc
    assert out.getexif().get(0x013B) == "A. Photographer"
    stripped = Image.open(upscale_file(f, tmp_path / f"s.{fmt}", bicubic2, strip_metadata=True))
    assert stripped.info.get("icc_profile") == icc and 0x013B not in stripped.getexif()


def test_tiles_that_did_not_change_are_not_run_again_and_give_the_same_output(photo):
    from sisr.infer import TileMemo, load_model

    up = load_model("rrgan-x4", scale=2, tile=32, overlap=8)
    frames = []  # 64 x 64: 2 x 2 tiles of 32 with 8 of context; a square moves inside the top-left one
    for i in range(3):
        f = photo[100:164, 180:244].copy()
        f[4:10, 2 + 4 * i : 8 + 4 * i] = (250, 40, 30)
        frames.append(f)
    frames.append(frames[-1])  # a frame shown twice
    memo, plain = TileMemo(), [up(f) for f in frames]
    calls = []
    forward = up.module.forward_scale
    up.module.forward_scale = lambda x, s: calls.append(1) or forward(x, s)
    try:
        reused = [up(f, memo=memo) for f in frames]
    finally:
        up.module.forward_scale = forward
    for a, b in zip(reused, plain):
        np.testing.assert_array_equal(a, b)  # bit for bit: a tile's output depends on its input alone
    assert (memo.runs, memo.reused, len(calls)) == (4 + 1 + 1 + 0, 3 + 3 + 4, 6)
    memo.next_image()
    assert len(memo.previous) <= 4  # one image's tiles kept, not the whole sequence's


def test_a_zero_shot_model_takes_no_memo():
    from sisr.infer import TileMemo

    with pytest.raises(SisrError, match="trains on each image: there are no tiles to reuse"):
        load_upscaler("drsingan", 2)(np.zeros((8, 8, 3), np.float32), memo=TileMemo())


def test_an_animation_with_a_still_background_is_cut_into_reusable_tiles(tmp_path, photo, bicubic2):
    from sisr.api import _for_animation
    from sisr.infer import still_share

    still = [photo[:200, :200].copy() for _ in range(4)]
    for i, f in enumerate(still):
        f[10:30, 10 + 5 * i : 30 + 5 * i] = 255  # moves inside the top-left tile
    moving = [np.roll(photo[:200, :200], 7 * i, axis=1) for i in range(4)]  # a pan: every tile changes
    assert still_share(still, 96) == pytest.approx(3 * 8 / 36)  # 3 x 3 tiles: 8 of 9 kept after frame 1
    assert still_share(moving, 96) == 0
    assert _for_animation(bicubic2, still).tile == 96 and bicubic2.tile is None  # a copy
    assert _for_animation(bicubic2, moving) is bicubic2
    chosen = load_upscaler("bicubic", 2, tile=64)
    assert _for_animation(chosen, still) is chosen  # the user's tile stands
    f = save_animation(tmp_path / "s.png", still, loop=0)
    got = shown(upscale_file(f, tmp_path / "o.png", bicubic2))
    tiled = load_upscaler("bicubic", 2, tile=96)
    for frame, src in zip(got, still):
        want = to_uint8(upscale_data(ImageData(src / np.float32(255)), tiled).pixels)
        np.testing.assert_array_equal(frame[:, :, :3], want)


@pytest.mark.parametrize("alpha", [False, True])
def test_a_frame_shown_again_later_is_not_run_again(tmp_path, photo, alpha):
    """A frame shown again (A B C A, as a ping-pong loop's way back) takes its first run's result, bit for bit."""
    base = frames_of(photo, 1, alpha)[0]
    a, b, c = (np.roll(base, 5 * i, axis=1) for i in range(3))  # a pan: no tile stays the same
    f = save_animation(tmp_path / "p.png", [a, b, c, a], loop=0)
    up = load_upscaler("rrgan-x4", 2, tile=0)
    calls, seen = [], []
    forward = up.module.forward_scale
    up.module.forward_scale = lambda x, s: calls.append(1) or forward(x, s)
    try:
        out = upscale_file(f, tmp_path / "o.png", up, on_tile=lambda d, t: seen.append((d, t)))
    finally:
        up.module.forward_scale = forward
    assert len(calls) == 3 and seen[-1][0] == seen[-1][1]
    got = shown(out)
    assert len(got) == 4
    for frame, src in zip(got, [a, b, c, a]):
        want = upscale_data(ImageData(src[:, :, :3] / np.float32(255), None if not alpha else src[:, :, 3] / 255.0), up)
        np.testing.assert_array_equal(frame[:, :, :3], to_uint8(want.pixels))
        if alpha:
            np.testing.assert_array_equal(frame[:, :, 3], to_uint8(want.alpha))


def test_an_animated_avif_stays_an_avif(tmp_path, photo, bicubic2):
    frames = frames_of(photo, 3)
    src = tmp_path / "a.avif"
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(src, save_all=True, append_images=ims[1:], duration=DURATIONS[:3], quality=100, subsampling="4:4:4")
    anim = read_animation(src)
    assert len(anim.frames) == 3 and anim.durations == DURATIONS[:3] and anim.loop == 0
    out = upscale_file(src, tmp_path / "o.avif", bicubic2)
    with Image.open(out) as im:
        assert im.format == "AVIF" and im.n_frames == 3 and im.size == (96, 80)
    got = shown(out)
    for frame, src_frame in zip(got, anim.frames):
        want = to_uint8(upscale_data(ImageData(src_frame / np.float32(255)), bicubic2).pixels)
        assert np.abs(frame[:, :, :3].astype(float) - want).mean() < 1.5
    assert read_animation(out).durations == DURATIONS[:3]
    gif = Image.open(upscale_file(src, tmp_path / "o.gif", bicubic2))  # plays on, as the AVIF did
    assert gif.n_frames == 3 and gif.info.get("loop") == 0


def test_the_cli_progress_bar_names_the_frames(tmp_path, photo):
    from sisr.cli import _progress_words

    f = save_animation(tmp_path / "a.gif", frames_of(photo), loop=0)
    cmd = [sys.executable, "-m", "sisr", "upscale", str(f), "-o", str(tmp_path / "o.gif")]
    r = subprocess.run([*cmd, "--model", "rrgan-x4", "--scale", "2", "--tile", "0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # counted in frames: a total of 4 (tqdm redraws at most every 0.1 s, so not every count shows)
    assert "a.gif (4 frames)" in r.stderr and "0/4 [" in r.stderr and "frame/s]" in r.stderr, r.stderr
    assert _progress_words(f, 4 * 9) == {"desc": "a.gif (4 frames)", "unit": "tile"}  # 9 tiles a frame
    still = write_image(tmp_path / "s.png", photo[:20, :20])
    assert _progress_words(still, 9) == {"desc": "s.png", "unit": "tile"}
