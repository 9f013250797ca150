"""The HTML report and charts: built from a run's files, checked as a person would, in a headless browser."""

import os
import re
import shutil
import subprocess

import pytest
from omegaconf import OmegaConf
from PIL import Image

from evaluator import report as report_command
from evaluator.compare import main as compare_main
from evaluator.results import report
from evaluator.results.summary import separation, summarize
from evaluator.results.writing import write_index, write_results, write_summary

from ..fixtures import judge_dict

EVIL = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def _run_folder(tmp_path, n=5):
    """A finished run's folder: images, results (one reply with a script in it), summary and config."""
    out = tmp_path / "run"
    (out / "img").mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.new("RGB", (300, 200), (40 * i, 120, 200)).save(out / "img" / f"s{i}.png")
        Image.new("RGB", (200, 300), (200, 40 * i, 20)).save(out / "img" / f"e{i}.jpg")
        rows.append({"id": f"p{i}", "source": str(out / "img" / f"s{i}.png"), "edited": str(out / "img" / f"e{i}.jpg"),
                     "instruction": f"Make it <b>bold</b> {i}", "category": "color" if i % 2 else "style",
                     "follows": i % 2 == 0, "score": float(i * 2), "error": None, "response": f"Looks fine {i}."})  # fmt: skip
    rows[1]["response"] = EVIL
    rows[3] |= {"score": None, "error": "unparseable"}
    written = write_results(rows, out) + write_summary(summarize(rows), out)
    cfg = OmegaConf.create({"model": {"name_or_path": "tiny:qwen3_vl"}, "judge": judge_dict("score10")})
    OmegaConf.save(cfg, out / "config.yaml")
    write_index(out, [*written, out / "config.yaml"])
    return out, rows


def test_separation_worked_out_by_hand():
    rows = [{"follows": True, "score": 8}, {"follows": True, "score": 5}, {"follows": False, "score": 5},
            {"follows": False, "score": 2}, {"follows": False, "score": None}, {"score": 9}]  # fmt: skip
    assert separation(rows) == {"auc": 0.875, "mean_gap": 3.0, "follows": 2, "does_not_follow": 2}
    assert separation([{"follows": True, "score": 1}]) is None


def test_report_escapes_and_embeds_everything(tmp_path):
    out, rows = _run_folder(tmp_path)
    html = report.build(out)[-1].read_text()
    assert "<script>document.title" not in html and "&lt;script&gt;document.title" in html
    assert "Make it &lt;b&gt;bold&lt;/b&gt;" in html
    assert html.count('src="data:image/jpeg;base64,') == 2 * len(rows)  # every thumbnail embedded
    assert html.count('src="data:image/png;base64,') == 2  # both charts embedded
    assert not re.search(r'src="(?!data:)', html)  # self-contained: nothing loaded from elsewhere
    assert "ROC AUC" in html
    # The headline comes first: a macro average over the two categories, style (0, 4, 8) and color (2; 6 failed).
    assert html.index('id="headline"') < html.index("<h2>Summary</h2>")
    assert "Headline (macro average over categories protocol)" in html and "<td>macro</td>" in html
    for name in ("plot_scores.png", "plot_categories.png"):
        assert Image.open(out / name).size[0] > 300


def test_report_cli_and_compare_page(tmp_path, capsys):
    out, _ = _run_folder(tmp_path)
    report_command.main([str(out)])
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    compare_main([str(out), str(out), "--html", str(tmp_path / "lb.html")])
    page = (tmp_path / "lb.html").read_text()
    board, paired = page.split('<table id="paired">')  # a run compared with itself: every difference 0
    assert board.count("<tr>") == 3 and paired.count("<tr>") == 2 and 'src="data:image/png;base64,' in page
    assert Image.open(tmp_path / "lb.png").size[0] > 300


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_report_renders_in_a_headless_browser(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail(".ci/run installs Debian's chromium; it is missing")
        pytest.skip("no chromium here (apt-get install chromium)")
    out, rows = _run_folder(tmp_path)
    page = report.build(out)[-1]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "<title>Judge report: run</title>" in dom  # no injected script renamed the page
    body = dom.split('<table class="samples" id="samples">')[1].split("</table>")[0]
    assert body.count("<tr>") == 1 + len(rows)  # header and one row per sample
    assert f'data-images-loaded="{2 * len(rows) + 2}/{2 * len(rows) + 2}"' in dom  # every image decoded
    assert "&lt;script&gt;document.title" in dom  # the reply shows as text
    assert f"{len(rows)} of {len(rows)} shown" in dom  # the table's script ran
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # tables, thumbnails and charts, not a blank page
