"""The config schema: every key the evaluator reads, with its default, as dataclasses in Hydra's ConfigStore.

The YAML presets in ``conf/`` hold only what differs from these defaults. Because the schema is typed and closed,
a misspelled key (``data.batchsize=4``) or a wrong type fails while Hydra composes the config, before anything
is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class ModelConfig:
    """The judge checkpoint and how to load and run it."""

    name_or_path: str = MISSING  # a hub id, a local checkpoint folder, or tiny:<name>
    revision: str | None = None
    dtype: str = "bfloat16"
    attn_implementation: str | None = "sdpa"
    max_new_tokens: int = 256
    local_files_only: bool = False
    trust_remote_code: bool = False
    experts_implementation: str | None = None  # MoE judges: None is transformers' grouped default; eager is slow
    adapter: str | None = None  # a PEFT LoRA adapter (folder or hub id) merged into the weights once: EditScore
    adapter_revision: str | None = None
    thinking: bool = False  # the judge writes a <think> trace before its answer (Qwen3-VL Thinking): generate only


@dataclass
class DataConfig:
    """What every layout shares: image checks, batching and the DataLoader."""

    layout: str = "manifest"
    resize_edited: bool = False  # resize each edit to its source's size before judging
    on_error: str = "skip"  # skip: score the good rows, an error row for each bad one; fail: stop before loading
    max_image_pixels: int = 64_000_000  # larger images are refused from their header (decompression bombs)
    min_image_side: int = 8  # smaller images are refused
    max_pixels: int | None = None  # cap on each image's pixels as the judge sees it; None: the processor's own
    max_side: int | None = None  # shrink each image to this long side first, as PIL's thumbnail (RISEBench: 768)
    max_prompt_tokens: int = 2048  # a longer instruction (in the judge's tokens) makes its row an error row
    batch_size: Any = 4  # per device: a positive integer, or "auto" for the largest that fits
    num_workers: Any = "auto"  # DataLoader workers per rank: auto (the CPUs each rank has, less one, at most 8) or N
    exif_transpose: bool = True  # turn each image upright per its EXIF orientation (GEdit-Bench does not)
    limit: int | None = None  # score a deterministic subset of this many samples, spread over the categories


@dataclass
class ManifestData(DataConfig):
    """Your own pairs: a JSONL or CSV manifest."""

    path: str = MISSING
    root: str | None = None  # every image must lie under this folder (default: the manifest's folder)
    allow_outside_root: bool = False


@dataclass
class PairsData(ManifestData):
    """Pairs of edits to compare: a JSONL or CSV file of id, source, instruction, edited_a, edited_b[, human]."""

    layout: str = "pairs"


@dataclass
class ArenaData(DataConfig):
    """Every pair of editors on every id: one manifest per editor (``python -m evaluator.arena``)."""

    layout: str = "arena"
    editors: dict[str, str] = field(default_factory=dict)  # editor name -> its manifest (or results folder)
    max_pairs: int | None = None  # judge a seeded random subset of this many pairs
    seed: int = 0
    allow_outside_root: bool = False
    editor_layout: str = "manifest"  # manifest; gedit: editors map to results roots; imgedit: to edits folders
    metadata: str | None = None  # gedit and imgedit: the benchmark's metadata, shared by every editor
    sources: str | None = None  # imgedit: the benchmark's source images
    language: str = "all"  # gedit: en, cn or all


@dataclass
class Scale:
    min: float = 0
    max: float = 10
    reported_max: float | None = None  # asked on min..max, reported on min..reported_max (EditScore: 25 -> 10)


@dataclass
class JudgeConfig:
    """A judging scheme; see ``evaluator.scoring.schemes``."""

    name: str = MISSING
    mode: str = "generate"  # generate: write a reply and parse it; logits: read the score's distribution
    retries: int = 0  # re-ask an unparseable reply this many times, with seeded sampling
    retry_temperature: float = 0.7
    samples: int = 1  # a self-ensemble: K seeded replies per judgement at `temperature`, their scores averaged
    temperature: float = 0.7  # the samples' (judge.samples > 1)
    top_p: float = 1.0  # the samples' nucleus (EditScore: 0.9); 1: the whole distribution
    top_k: int = 0  # the samples' k most likely tokens only (EditScore: 20); 0: all
    scale: Scale = field(default_factory=Scale)
    system: str = ""
    judgements: list[Any] = MISSING
    overall: Any = None  # a criterion's name, or {name, of: [...], combine}
    report: list[str] = field(default_factory=list)
    rubrics: dict[str, str] = field(default_factory=dict)
    logits_prefix: str = '{"$key": '
    # How replies are read: this project's parser, or a benchmark's own (viescore, imgedit) for its official scheme.
    parser: str = "default"
    # The benchmark's own prompt file (vie_prompts.py or prompts.json) that `official:` prompt parts read.
    official_source: str | None = None
    max_new_tokens: int | None = None  # a scheme's own reply length (the official ones: 512); None: model's
    # A verdict's words and their values on the scale (pairwise: {A: 1, tie: 0.5, B: 0}); a reply then holds one of
    # these words under its key instead of a number. Empty: replies hold numbers.
    labels: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainerConfig:
    """Where the processes run. Under torchrun, devices follow torchrun's processes."""

    accelerator: str = "auto"  # auto, gpu or cpu
    devices: Any = "auto"  # auto, a count, or a list of GPU indices
    num_nodes: int = 1
    gpus_per_replica: int = 1  # GPUs one judge is spread over (one process per replica: torchrun or launch.sh)
    max_memory_fraction: float = 0.9  # with gpus_per_replica > 1: the share of each card the weights may take


@dataclass
class ApiConfig:
    """``backend=api``: an OpenAI-compatible server (OpenAI, vLLM, SGLang, Ollama) judges instead of local weights."""

    # e.g. https://api.openai.com/v1, or several servers of one model: [http://node1:8000/v1,http://node2:8000/v1]
    base_url: Any = None
    model: str | None = None  # the server's model name, e.g. gpt-4.1
    key_env: str | None = "OPENAI_API_KEY"  # the environment variable holding the key (never the key itself)
    concurrency: int = 8  # requests in flight at most, per server
    timeout_s: float = 120.0  # per request, from sending it to the reply's last byte; a timed-out request is retried
    max_retries: int = 5  # per request, for 429, 5xx, timeouts, dropped connections and unreadable replies
    max_retry_wait_s: float = 60.0  # the longest wait between tries, whatever a server's Retry-After asks for
    max_tokens: int = 512  # reply length, unless the scheme sets its own
    max_response_bytes: int = 8_000_000  # a larger response is refused as it arrives (a failed request, not a reply)
    max_instruction_chars: int = 8000  # a longer instruction makes its row an error row (the server's tokens unknown)
    # How an image that cannot go as its own file's bytes is re-encoded: png or webp (lossless), or jpeg (lossy).
    image_format: str = "png"
    # judge.mode=logits: pre-fill the reply up to the score and read the next token, as the local judge does (a
    # server that continues a final assistant message: vLLM, SGLang); false: read the scores from a written reply.
    prefill: bool = False


@dataclass
class VllmConfig:
    """``backend=vllm``: a vLLM server on each GPU (or group of ``trainer.gpus_per_replica``), started for the run."""

    python: str | None = None  # the interpreter that runs vLLM (a venv of its own); None: this one
    max_num_seqs: int = 64  # sequences one server batches; also the requests in flight to it
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None  # None: room for data.max_prompt_tokens, the images and the reply
    enforce_eager: bool = False  # no CUDA graphs or compilation: starts sooner, runs slower
    start_timeout_s: float = 900.0  # the longest a server may take to be ready
    extra_args: list[str] = field(default_factory=list)  # more `vllm serve` arguments, e.g. [--mm-encoder-tp-mode,data]
    env: dict[str, str] = field(default_factory=dict)  # more environment for the servers, e.g. VLLM_CPU_KVCACHE_SPACE


@dataclass
class EditorConfig:
    """An image-editing pipeline (diffusers) and how it edits; see ``evaluator.edit.diffusion``."""

    name_or_path: str = MISSING  # a hub id, a local pipeline folder, or tiny:<name>
    revision: str | None = None
    variant: str | None = None  # the checkpoint's weight files of this variant (e.g. fp16); None: the default ones
    dtype: str = "bfloat16"
    num_inference_steps: int = 28
    guidance_scale: float | None = None  # None: the pipeline's own default
    # The output has about resolution x resolution pixels at the source's aspect ratio, each side a multiple of
    # multiple_of; the source is resized to that size before it reaches the pipeline. None: the source's own size.
    resolution: int | None = 1024
    multiple_of: int = 16
    batch_size: int = 1  # edits per call on each device
    max_instruction_chars: int = 4000  # a longer instruction makes its row an error row
    call: dict[str, Any] = field(default_factory=dict)  # any other keyword of the pipeline's __call__
    local_files_only: bool = False


@dataclass
class EditConfig:
    """The top level of ``python -m evaluator.edit``."""

    editor: EditorConfig = MISSING
    data: DataConfig = MISSING
    trainer: TrainerConfig = MISSING
    out_dir: str = MISSING  # manifests: the edits and a new manifest; benchmarks: the layout's own results folder
    seed: int = 0  # every sample's noise is drawn from (seed, id)
    log_level: str = "INFO"
    resume: bool = True  # edits an earlier run wrote for the same inputs and editor settings are not made again
    callbacks: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalConfig:
    """The top level of ``python -m evaluator``."""

    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    judge: JudgeConfig = MISSING
    trainer: TrainerConfig = MISSING
    # local: the Qwen3-VL judge of `model` on this machine (transformers); vllm: the same checkpoint on a vLLM server
    # per GPU, started for the run; api: the servers of `api`
    backend: str = "local"
    api: ApiConfig = field(default_factory=ApiConfig)
    vllm: VllmConfig = field(default_factory=VllmConfig)
    out_dir: str = MISSING
    seed: int = 0
    log_level: str = "INFO"
    resume: bool = True  # rows an earlier run in out_dir scored under the same settings are not scored again
    report: bool = True  # write report.html and the charts at the end
    dry_run: bool = False  # check the data and write every prompt to out_dir/prompts.jsonl; load no weights
    # Extra Lightning callbacks, by name: {name: {_target_: module.Class, ...}} (tests inject faults this way).
    callbacks: dict[str, Any] = field(default_factory=dict)


@dataclass
class ArenaSettings:
    editors: dict[str, str] = field(default_factory=dict)  # arena.editors.NAME=PATH: each editor's manifest
    max_pairs: int | None = None  # judge a seeded random subset of this many (id, editor, editor) pairs
    layout: str = "manifest"  # the editors' layout: manifest, gedit (PATH: a results root), imgedit (PATH: edits)
    metadata: str | None = None  # gedit and imgedit: the benchmark's metadata
    sources: str | None = None  # imgedit: the benchmark's source images
    language: str = "all"  # gedit: en, cn or all
    anchor: str = "mean_rating"  # what rates 1000: the mean rating, or mean_strength (GenArena's: the strengths' mean)


@dataclass
class ArenaConfig(EvalConfig):
    """The top level of ``python -m evaluator.arena``: the judge's keys and the editors to rank."""

    arena: ArenaSettings = field(default_factory=ArenaSettings)


@dataclass
class PipelineConfig(EvalConfig):
    """The top level of ``python -m evaluator.pipeline``: the judge's keys, the editor and where its edits go."""

    editor: EditorConfig = MISSING
    edit_dir: str = MISSING  # the editing stage's out_dir; out_dir is the judge's
