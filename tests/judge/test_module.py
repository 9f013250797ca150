import pytest
import torch
from PIL import Image

from evaluator.inputs.samples import Sample
from evaluator.judge.loading import load_processor
from evaluator.judge.module import JudgeModule, select_rows
from evaluator.scoring.prompts import Collator
from evaluator.scoring.schemes import Scheme

from ..fixtures import judge_dict, model_cfg


class StubModel:
    """Replies by row: greedy replies from ``greedy``; sampled (retry) replies from ``sampled``."""

    def __init__(self, tokenizer, greedy, sampled):
        self.tokenizer, self.greedy, self.sampled = tokenizer, greedy, sampled
        self.calls = []

    def generate(self, input_ids, do_sample=False, **kwargs):
        self.calls.append(
            {"rows": input_ids.shape[0], "do_sample": do_sample, "pixels": kwargs["pixel_values"].shape[0]}
        )
        replies = self.sampled if do_sample else self.greedy
        encoded = [self.tokenizer.encode(r, add_special_tokens=False) for r in replies[: input_ids.shape[0]]]
        width = max(map(len, encoded))
        pad = self.tokenizer.pad_token_id
        new = torch.tensor([e + [pad] * (width - len(e)) for e in encoded])
        return torch.cat([input_ids, new], dim=1)


@pytest.fixture(scope="module")
def processor():
    return load_processor(model_cfg())


def _batch(processor, scheme, sizes):
    items = [
        {"sample": Sample(id=f"s{i}", source="s", edited="e", instruction="x"),
         "source": Image.new("RGB", size, (40 * i, 0, 0)), "edited": Image.new("RGB", size, (0, 0, 90 + 40 * i))}
        for i, size in enumerate(sizes)
    ]  # fmt: skip
    return Collator(processor, scheme)(items)


def test_retries_reask_only_unparseable_rows(processor):
    cfg = judge_dict("score10")
    scheme = Scheme.from_config({**cfg, "retries": 2})
    batch = _batch(processor, scheme, [(64, 64), (128, 96)])
    module = JudgeModule(model_cfg(max_new_tokens=8), scheme, processor)
    # Row 0 answers well; row 1 rambles, then answers when re-asked.
    module.model = StubModel(processor.tokenizer, ['{"score": 7}', "I cannot tell"], ['{"score": 3}'])
    rows = module.predict_step(batch, 0)
    assert [(r["id"], r["score"], r["error"], r["response"]) for r in rows] == [
        ("s0", 7.0, None, '{"score": 7}'),
        ("s1", 3.0, None, '{"score": 3}'),
    ]
    greedy, retry = module.model.calls
    assert (greedy["rows"], greedy["do_sample"]) == (2, False)
    # Only row 1 was re-asked, with its own two 128x96 images: 2 x (8 x 6) patches.
    assert (retry["rows"], retry["do_sample"], retry["pixels"]) == (1, True, 96)


def test_without_retries_an_unparseable_reply_stays_null(processor):
    cfg = judge_dict("score10")
    scheme = Scheme.from_config(cfg)
    batch = _batch(processor, scheme, [(64, 64)])
    module = JudgeModule(model_cfg(max_new_tokens=8), scheme, processor)
    module.model = StubModel(processor.tokenizer, ["no score here"], ['{"score": 3}'])
    [row] = module.predict_step(batch, 0)
    assert (row["score"], row["error"], row["response"]) == (None, "unparseable", "no score here")
    assert len(module.model.calls) == 1


def test_select_rows_takes_each_rows_own_patches(processor):
    cfg = judge_dict("viescore")
    batch = _batch(processor, Scheme.from_config(cfg), [(64, 64), (128, 96)])
    inputs = batch["inputs"]
    # Rows s0/SC, s0/PQ, s1/SC, s1/PQ hold 2, 1, 2, 1 images of 16, 16, 48 and 48 patches: 16+16 | 16 | 48+48 | 48.
    assert inputs["pixel_values"].shape[0] == 192
    sub = select_rows(inputs, [1, 3], batch["images_per_row"])
    assert sub["image_grid_thw"].tolist() == [[1, 4, 4], [1, 6, 8]]
    assert torch.equal(sub["pixel_values"], torch.cat([inputs["pixel_values"][32:48], inputs["pixel_values"][144:192]]))
    assert not torch.equal(inputs["pixel_values"][32:48], inputs["pixel_values"][0:16])  # distinct images
    assert torch.equal(sub["input_ids"], inputs["input_ids"][[1, 3]])


class OomStub(StubModel):
    """Runs out of memory on batches of more than ``fits`` rows (or always, with ``fits=0``)."""

    def __init__(self, tokenizer, fits):
        super().__init__(tokenizer, [], [])
        self.fits = fits

    def generate(self, input_ids, **kwargs):
        if input_ids.shape[0] > self.fits:
            self.calls.append({"rows": input_ids.shape[0], "oom": True})
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        first_pixel = kwargs["pixel_values"][0, 0].item()
        self.greedy = [f'{{"score": {round(first_pixel) % 10 + 1}}}'] * input_ids.shape[0]
        return super().generate(input_ids, **kwargs)


def test_out_of_memory_splits_the_batch_down_to_single_samples(processor):
    cfg = judge_dict("score10")
    scheme = Scheme.from_config(cfg)
    batch = _batch(processor, scheme, [(64, 64), (96, 64), (64, 96)])
    module = JudgeModule(model_cfg(max_new_tokens=8), scheme, processor)
    module.model = OomStub(processor.tokenizer, fits=1)
    rows = module.predict_step(batch, 0)
    assert [r["id"] for r in rows] == ["s0", "s1", "s2"] and all(r["error"] is None for r in rows)
    # 3 -> OOM; halves of 1 and 2 -> the 2 runs out too -> 1 + 1.
    assert [c["rows"] for c in module.model.calls] == [3, 1, 2, 1, 1]
    module.model = OomStub(processor.tokenizer, fits=0)
    rows = module.predict_step(batch, 0)
    assert [(r["score"], r["error"]) for r in rows] == [(None, "out of memory")] * 3


def test_largest_fitting_batch_halves_until_it_fits():
    from evaluator.judge.module import largest_fitting

    tried = []

    def attempt(n):
        tried.append(n)
        if n > 12:
            raise torch.OutOfMemoryError("CUDA out of memory.")

    assert largest_fitting(attempt, 64) == 8
    assert tried == [64, 32, 16, 8]
    tried.clear()
    assert largest_fitting(lambda n: attempt(100), 64) == 1  # nothing fits: a single sample is left to predict_step
    assert tried == [100] * 6  # 64, 32, 16, 8, 4, 2 tried; 1 is not


def test_largest_fitting_lets_other_errors_through():
    from evaluator.judge.module import largest_fitting

    with pytest.raises(ValueError, match="a bug"):
        largest_fitting(lambda n: (_ for _ in ()).throw(ValueError("a bug")), 8)


def test_a_benchmark_asks_each_item_its_own_judgements_and_images(processor, tmp_path):
    from evaluator.config.compose import compose
    from evaluator.inputs.readers import read_samples
    from evaluator.runtime.dataset import PairDataset

    from ..fixtures import data_cfg, make_risebench

    loaded = read_samples(data_cfg(layout="risebench", **make_risebench(tmp_path)))
    picked = {s.id: s for s in loaded.samples}
    samples = [picked[i] for i in ("temporal_reasoning_1", "causal_reasoning_1", "logical_reasoning_2")]
    scheme = Scheme.from_config(compose(["judge=risebench"]).judge)
    batch = Collator(processor, scheme)(list(PairDataset(samples, max_side=16)))
    assert [(pos, j) for pos, j, _ in batch["rows"]] == [
        (0, "ApprConsistency"), (0, "Reasoning"), (0, "VisualPlausibility"),
        (1, "Reasoning"), (1, "VisualPlausibility"),  # consistency_free: not asked
        (2, "ApprConsistency"), (2, "Reasoning"),  # logical: no plausibility
    ]  # fmt: skip
    assert batch["images_per_row"] == [2, 1, 1, 1, 1, 2, 2]  # the logical item: its reference image, then the edit
    module = JudgeModule(model_cfg(max_new_tokens=8), scheme, processor)
    replies = [f"Final Score: {n}" for n in (4, 5, 5, 5, 5, 0, 1)]
    module.model = StubModel(processor.tokenizer, replies, [])
    rows = {r["id"]: r for r in module.predict_step(batch, 0)}
    assert rows["temporal_reasoning_1"]["score"] == pytest.approx(0.2 * 5 + 0.8 * 5)  # weighed as its script does
    assert rows["causal_reasoning_1"]["ApprConsistency"] is None and rows["causal_reasoning_1"]["score"] == 5.0
    assert (rows["logical_reasoning_2"]["ApprConsistency"], rows["logical_reasoning_2"]["score"]) == (1.0, 3.8)


def test_kris_bench_items_show_every_input_image_and_one_reply_scores_two_keys(processor, tmp_path):
    from evaluator.config.compose import compose
    from evaluator.inputs.readers import read_samples
    from evaluator.runtime.dataset import PairDataset

    from ..fixtures import data_cfg, make_krisbench

    loaded = read_samples(data_cfg(layout="krisbench", **make_krisbench(tmp_path)))
    picked = {s.id: s for s in loaded.samples}
    samples = [picked[i] for i in ("multi-element_composition/2", "temporal_prediction/1", "physics/1")]
    scheme = Scheme.from_config(compose(["judge=krisbench"]).judge)
    batch = Collator(processor, scheme)(list(PairDataset(samples, max_side=16)))
    assert [(pos, j) for pos, j, _ in batch["rows"]] == [
        (0, "consistency_score"), (0, "instruction_score"), (0, "quality_score"),
        (1, "consistency_score"), (1, "instruction_score"), (1, "quality_score"),
        (2, "consistency_score"), (2, "dual_evaluation"), (2, "quality_score"),
    ]  # fmt: skip
    assert batch["images_per_row"] == [4, 4, 1, 4, 4, 1, 2, 2, 1]  # three references, three frames: each, and the edit
    module = JudgeModule(model_cfg(max_new_tokens=8), scheme, processor)
    replies = ['{"consistency_score": 5}', "instruction score: 4", "3/5"] * 2
    replies += ['{"consistency_score": 2}', '{"instruction_score": 4, "knowledge_score": 1}', "Step 1 of 5."]
    module.model = StubModel(processor.tokenizer, replies, [])
    rows = {r["id"]: r for r in module.predict_step(batch, 0)}
    assert rows["temporal_prediction/1"]["score"] == 4.0 and rows["physics/1"]["knowledge_score"] == 1.0
    assert rows["physics/1"]["quality_score"] is None and "unparseable" in rows["physics/1"]["error"]
