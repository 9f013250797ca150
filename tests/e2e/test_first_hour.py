"""What a new user meets in the first hour, and the faults found by breaking the project on purpose (2026-12-06):
each ends in a clear line, a count or a warning, never a crash after the work or a silent success."""

import io
import json
import subprocess
import sys

import pytest
from PIL import Image, PngImagePlugin

from evaluator.config.compose import check_overrides, compose
from evaluator.convert import main as convert_main
from evaluator.inputs.images import load_rgb, orientation
from evaluator.judge.server_images import image_url, passes_as_is, source_size
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError, DataError, report_and_exit

from ..api_server import Server
from ..conftest import REPO, cli_env, read_jsonl


def _turned_pngs(folder):
    """A 40x20 PNG turned by ImageMagick's "Raw profile type exif" text, and one turned by XMP."""
    im = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = exif.tobytes()
    raw = PngImagePlugin.PngInfo()
    raw.add_text("Raw profile type exif", f"\nexif\n{len(data):8}\n{data.hex()}\n", zip=True)
    xmp = PngImagePlugin.PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>')
    im.save(folder / "raw.png", pnginfo=raw)
    im.save(folder / "xmp.png", pnginfo=xmp)
    return folder / "raw.png", folder / "xmp.png"


def test_a_png_turned_in_xmp_or_a_raw_exif_profile_is_sent_turned(tmp_path):
    for path, turn in zip(_turned_pngs(tmp_path), (6, 8), strict=True):
        assert load_rgb(str(path)).size == (20, 40)  # the local judge turns it
        with Image.open(path) as im:
            assert orientation(im) == turn and not passes_as_is(im, None, True, None)
        assert source_size(str(path)) == (20, 40)  # data.resize_edited's size check agrees
        sent = Image.open(io.BytesIO(__import__("base64").b64decode(image_url(str(path)).split(",", 1)[1])))
        assert sent.size == (20, 40)


def test_an_animation_goes_as_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (24, 24), c) for c in ((250, 0, 0), (0, 250, 0))]
    for name in ("anim.png", "anim.webp"):
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], lossless=True)
        sent = Image.open(io.BytesIO(__import__("base64").b64decode(image_url(str(tmp_path / name)).split(",")[1])))
        assert getattr(sent, "n_frames", 1) == 1 and sent.convert("RGB").getpixel((5, 5))[0] > 200


def _manifest(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    for r in rows:
        Image.new("RGB", (32, 32), (90, 90, 90)).save(folder / r["source"])
        Image.new("RGB", (32, 32), (160, 160, 160)).save(folder / r["edited"])
    path = folder / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROWS = [{"id": f"r{i}", "source": f"s{i}.png", "edited": f"e{i}.png", "instruction": "Brighten it."} for i in range(3)]


def _api(server, path, out, *extra):
    return ["backend=api", f"api.base_url={server.url}", "api.model=asked", "api.key_env=null", "report=false",
            "data=manifest", f"data.path={path}", f"out_dir={out}", *extra]  # fmt: skip


def test_the_model_that_answered_is_recorded_and_a_mismatch_said_once(tmp_path, capsys):
    path = _manifest(tmp_path / "data", ROWS)
    with Server(answers_as="another-model") as server:
        run(compose(_api(server, path, tmp_path / "out")))
    rows = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [r["api_model"] for r in rows] == ["another-model"] * 3
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["api"]["models"] == {"another-model": 3}
    assert capsys.readouterr().err.count("answered as model another-model, not api.model=asked") == 1


def test_a_viescore_reply_of_1e308_is_out_of_range_and_the_outputs_are_written(tmp_path):
    source = tmp_path / "vie_prompts.py"
    source.write_text("_context_no_delimit = 'ctx'\n_prompts_0shot_two_image_edit_rule = 'rule <instruction>'\n"
                      "_prompts_0shot_tie_rule_SC = 'sc'\n_prompts_0shot_rule_PQ = 'pq'\n")  # fmt: skip
    path = _manifest(tmp_path / "data", ROWS)
    with Server(content=lambda text: '{"score": [1e308, 1e308]}' if "sc" in text else '{"score": [8]}') as server:
        run(compose(_api(server, path, tmp_path / "out", "judge=viescore_official",
                         f"judge.official_source={source}")))  # fmt: skip
    rows = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert all(r["SC"] is None and r["error"].startswith("SC: out of range") for r in rows)
    assert all(r["PQ"] == 8 for r in rows)
    assert (tmp_path / "out" / "summary.json").is_file()


def test_a_run_whose_every_row_is_skipped_stops_naming_the_folder_paths_are_read_from(tmp_path):
    path = _manifest(tmp_path / "data", ROWS)
    for r in ROWS:
        (tmp_path / "data" / r["edited"]).unlink()
    with Server() as server, pytest.raises(DataError) as err:
        run(compose(_api(server, path, tmp_path / "out")))
    assert f"relative image paths were read from {tmp_path / 'data'}" in str(err.value)
    assert not server.texts


def test_most_unreadable_replies_are_said_at_the_end_with_why(tmp_path, caplog):
    caplog.set_level("INFO", logger="evaluator")
    path = _manifest(tmp_path / "data", ROWS)
    with Server(content=lambda text: "I like it a lot.") as server:
        run(compose(_api(server, path, tmp_path / "out")))
    assert "3 of 3 replies held no readable score" in caplog.text


def test_dashed_options_get_the_form_that_works():
    with pytest.raises(ConfigError, match=r"--data.path is not an option here: .* \(data.path=x\)"):
        check_overrides(["--data.path", "x"])
    with pytest.raises(ConfigError, match=r"\(model=tiny\)"):
        check_overrides(["--model=tiny"])
    check_overrides(["--cfg", "job", "model=tiny"])  # Hydra's own flags stay Hydra's


def test_ctrl_c_before_the_stage_listens_is_one_line_and_exit_130(caplog):
    with pytest.raises(SystemExit) as exit_, report_and_exit():
        raise KeyboardInterrupt
    assert exit_.value.code == 130 and "stopped by SIGINT" in caplog.text


def test_convert_refuses_a_file_it_cannot_read_in_one_line_and_counts_bad_rows(tmp_path):
    for name, text in (("set.jsonl", '{"a": 1}\n'), ("set.json", "[1, 2]"), ("set.parquet", "PAR1 broken")):
        (tmp_path / name).write_text(text)
        done = subprocess.run([sys.executable, "-m", "evaluator.convert", "editscore-bench", str(tmp_path / name),
                               str(tmp_path / "out")], capture_output=True, text=True, env=cli_env(), cwd=REPO)  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "is not parquet or arrow data" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_convert_skips_a_row_with_a_bomb_image_or_no_instruction_and_keeps_ids_unique(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def png(level, size=(8, 8)):
        buf = io.BytesIO()
        Image.new("RGB", size, (level,) * 3).save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}

    bomb = png(1, (100, 100))  # past Pillow's pixel limit, lowered below
    rows = [{"key": "k", "instruction": "x", "input_image": png(1), "output_images": [png(2), png(3)],
             "dimension": "overall", "task_type": "t"} for _ in range(2)]  # fmt: skip
    rows += [{**rows[0], "output_images": [bomb, png(3)]}, {**rows[0], "instruction": None}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "set.parquet")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1000  # 10,000 pixels: over twice the limit, a DecompressionBombError
    try:
        convert_main(["editscore-bench", str(tmp_path / "set.parquet"), str(tmp_path / "out")])
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    got = read_jsonl(tmp_path / "out" / "pairs.jsonl")
    assert [p["id"] for p in got] == ["k:overall", "k:overall-2"]


def test_the_pipeline_reads_rows_without_edited_as_docs_editing_shows(tmp_path):
    from evaluator.edit.checks import check_pipeline

    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"id": "a", "source": "s.png", "instruction": "Brighten it."}) + "\n")
    check_pipeline(compose(["editor=tiny", "model=tiny", "data=manifest", f"data.path={path}"], "pipeline"))
    with pytest.raises(ConfigError, match="judge=pairwise compares two edits"):
        check_pipeline(compose(["editor=tiny", "model=tiny", "judge=pairwise", f"data.path={path}"], "pipeline"))


def test_export_of_a_pairs_run_names_its_layout(tmp_path):
    from evaluator.results.export import export
    from evaluator.results.writing import write_config, write_index, write_results, write_summary

    out = tmp_path / "run"
    out.mkdir()
    cfg = compose(["model=tiny", "data=pairs", "data.path=p.jsonl", "judge=pairwise"])
    rows = [{"id": "p#AB", "score": 1.0}]
    from evaluator.results.summary import summarize

    summary = summarize(rows)
    summary.pop("headline")
    write_index(out, [*write_results(rows, out), *write_summary(summary, out), write_config(cfg, out)])
    with pytest.raises(ConfigError, match="is a run of data=pairs; --format gedit needs a run of data=gedit"):
        export(out, "gedit", tmp_path / "x")
