"""GEditBench v2's reading of a verdict (a JSON block's "winner", spelled as its judge client accepts it) and, with a
checkout of it (``EVALUATOR_GEDITV2_SOURCE``), its prompt templates sent exactly as its adapter builds them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.config.compose import compose
from evaluator.inputs.samples import Sample
from evaluator.scoring.benchmark_parsers import parse_geditv2
from evaluator.scoring.parsing import UNPARSEABLE
from evaluator.scoring.schemes import Scheme

SOURCE = os.environ.get("EVALUATOR_GEDITV2_SOURCE")


@pytest.mark.parametrize(
    "reply, value",
    [
        ('```json\n{"winner": "Image A"}\n```', 1.0),
        ('Reasons first. {"reasoning": "x", "winner": "image b"}', 0.0),
        ('```\n{"winner": "Tie"}\n```', 0.5),
        ('{"winner": "equal"}', 0.5),
        ("{'winner': 'A'}", 1.0),  # a Python dict literal
        ('{"nested": {"x": 1}, "winner": "B"} and more', 0.0),
        ("Image A is clearly better.", None),  # no JSON: no verdict, never a guess
        ('{"winner": "Image A"', None),  # cut short: its client would repair it
        ('{"winner": "Image C"}', None),
        ('{"winner": 1}', None),
    ],
)
def test_the_winner_is_read_as_its_client_reads_it_and_nothing_is_guessed(reply, value):
    parsed = parse_geditv2(reply)
    assert parsed.score == value and (value is not None or parsed.error == UNPARSEABLE)


RENDER = """
import ast, json, sys
from schemas.prompt_template import PromptTemplate
import yaml
rules = {}
for node in ast.parse(open(sys.argv[2]).read()).body:
    if isinstance(node, ast.Assign) and node.targets[0].id == "SEPARATOR_RULES":
        rules = ast.literal_eval(node.value)
out = {}
for prompt_id in sys.argv[3:]:
    data = yaml.safe_load(open(f"{sys.argv[1]}/{prompt_id}/v1.yaml"))
    template = PromptTemplate(prompt_id=prompt_id, system_prompt=data.get("system_prompt", ""),
                              user_prompt=data["user_prompt"], metadata=data.get("metadata", {}))
    blocks = template.render_blocks(instruction="Turn the {sky} red & <keep> the rest.", input_image="source",
                                    edited_images=["edited", "second"])
    content = []
    for i, block in enumerate(blocks):
        content.append(["text", block["content"]] if block["type"] == "text"
                       else ["image", block["content"].as_base64()])
        if i < len(blocks) - 1:
            content.append(["text", rules.get((block["type"], blocks[i + 1]["type"]), "\\n")])
    out[prompt_id] = {"system": template.system_prompt, "content": content}
print(json.dumps(out))
"""


@pytest.mark.skipif(not SOURCE, reason="EVALUATOR_GEDITV2_SOURCE (a checkout of GEditBench_v2) is not set")
def test_its_templates_are_sent_as_its_adapter_builds_them():
    assets = Path(SOURCE) / "src" / "prompts" / "assets"
    ids = [f"vlm/assessment/{d}/pairwise" for d in ("visual_consistency", "visual_quality", "instruction_following")]
    adapter = Path(SOURCE) / "src" / "autopipeline" / "components" / "primitives" / "prompt_adapters.py"
    proc = subprocess.run([sys.executable, "-c", RENDER, str(assets), str(adapter), *ids], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(SOURCE) / "src")}, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout)
    scheme = Scheme.from_config(compose(["judge=geditv2_official", f"judge.official_source={assets}"]).judge)
    sample = Sample("q_pair_a_vs_b", "s.png", "a.png", "Turn the {sky} red & <keep> the rest.", second="b.png")
    for judgement, prompt_id in zip(scheme.judgements, ids, strict=True):
        system, user = judgement.prompt.messages(sample)
        ours = [["text", c["text"]] if c["type"] == "text" else ["image", c["role"]] for c in user["content"]]
        assert system == {"role": "system", "content": theirs[prompt_id]["system"]}
        assert ours == theirs[prompt_id]["content"], prompt_id
