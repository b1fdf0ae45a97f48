"""A benchmark run replayed step by step on one DP rank: arrivals, the engine's scheduler, and the metrics.

Published figures come from `vllm bench serve` / `sglang.bench_serving` style runs: N prompts of fixed
lengths sent at once (request rate inf), at a fixed rate, or by C clients that each send the next
prompt when their last one finishes (`--max-concurrency C`). Mean TTFT, mean TPOT (excluding the first
token) and output throughput over such a run depend on how the engine schedules prompts against running
decodes, not only on step times: with a prefill-first scheduler a whole wave of C prompts is prefilled
before any of them decodes, so the waves stay in lock-step and the k-th prompt of each wave waits for
k - 1 others; with mixed (chunked-prefill) steps decoding continues while prompts are admitted.

Each step is timed by planner.step_model with the shape the scheduler built:
- `mixed` (vLLM V1, TensorRT-LLM): every running sequence decodes; the rest of the step's token budget
  (`prefill_chunk_tokens`) takes prompt tokens first come first served, several prompts per step and
  partial chunks of a long one; a prompt's first token comes at the end of the step that finishes it.
- `prefill_first` (SGLang): while prompts wait and the batch has room, a step is a prefill batch of up to
  `prefill_chunk_tokens` prompt tokens; otherwise it is a decode step of every running sequence.
TTFT runs from the moment the client sends the prompt.
Requests reach the engine through its API server, one process that spends `request_overhead_s` of CPU
taking in each request and `frontend_token_s` streaming each output token, shared job by job: a burst of
N prompts trickles in while the first answers stream, and streaming slows while prompts are taken in. The DP ranks of a dp-attention engine
step together (every MoE layer exchanges tokens between them), so they are replayed as one group whose
busiest rank sets each step: prompts spread round-robin over the ranks, and with `prefill_first` the
ranks without a prompt decode during another rank's prefill. Independent replicas get an equal share of
clients and prompts. Requests move in cohorts (same first-token step); decode-only stretches between
events are advanced in one go at their mean context.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.gpu_spec import GpuSpec
from planner.model_spec import ModelSpec
from planner.speculative import accepted_tokens_per_step
from planner.step_model import StepShape, step_time

__all__ = ["BenchmarkRun", "RunResult", "simulate_run"]

_MAX_EVENTS = 2_000_000


class BenchmarkRun(BaseModel):
    """How a benchmark client drives the server (whole deployment, before splitting over DP ranks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_len: int = Field(ge=1)
    output_len: int = Field(ge=1)
    requests: int = Field(ge=1)
    arrival: Literal["burst", "closed_loop", "rate"] = "burst"
    concurrency: int | None = Field(default=None, ge=1)
    """Clients of a closed loop (`--max-concurrency`)."""
    request_rate: float | None = Field(default=None, gt=0)
    """Requests per second of an open loop (`--request-rate`), spaced evenly."""
    mtp: int = 0
    cached_input_tokens: int = Field(default=0, ge=0)
    """Prompt tokens served from the prefix cache (not recomputed, still attended)."""
    mtp_accepted_tokens: float | None = Field(default=None, ge=1)
    """Measured tokens per verification step, instead of the published MTP table."""


class RunResult(BaseModel):
    """What the benchmark would print for this rank (and so for the deployment)."""

    model_config = ConfigDict(frozen=True)

    mean_ttft_s: float
    mean_tpot_s: float
    output_tokens_per_s: float
    duration_s: float
    requests: int
    mean_running: float
    steps: int


class _Cohort:
    """Requests that finish together: `left` tokens to go, and the sum of their first-token times."""

    __slots__ = ("count", "left", "first_token_sum")

    def __init__(self, count: int, left: float, first_token_sum: float):
        self.count, self.left, self.first_token_sum = count, left, first_token_sum


COHORT_TOLERANCE = 0.02
"""Requests whose remaining tokens differ by less than this share of the output length (at least one
token) move as one cohort; it bounds the replay's cost at ~50 cohorts and its TPOT error at 2%."""


def _join(cohorts: list[_Cohort], count: int, left: float, t: float, out: int) -> None:
    """Add requests that just got their first token, merged into the newest cohort when close to it."""
    last = cohorts[-1] if cohorts else None
    if last is not None and abs(last.left - left) < max(1.0, COHORT_TOLERANCE * out):
        last.count += count
        last.first_token_sum += count * t
    else:
        cohorts.append(_Cohort(count, left, count * t))


class _Group:
    """The DP ranks that step together (all of a dp-attention engine, else one replica), replayed as one."""

    def __init__(self, spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, run: BenchmarkRun,
                 max_batch: int, frontend: bool, ranks: int):
        self.spec, self.gpu, self.dep, self.engine, self.run = spec, gpu, dep, engine, run
        self.ranks = ranks
        self.max_batch = max(1, max_batch) * ranks
        self.frontend = frontend
        self.accepted = run.mtp_accepted_tokens or accepted_tokens_per_step(run.mtp)
        self.compute_prompt = max(1, run.input_len - run.cached_input_tokens)
        self.chunk = float(engine.chunk_tokens(gpu.memory_bytes))
        self.mixed = engine.scheduler == "mixed"
        self.intake_done = 0.0
        self._cache: dict[tuple, float] = {}

    def _step_s(self, decode: float, context: float, prefill: float, attended: float) -> float:
        """GPU seconds of one step of the busiest rank: `decode` sequences per rank, `prefill` tokens on it."""
        key = (round(decode, 2), round(context, -1) if context > 100 else round(context),
               round(prefill), round(attended, -1))
        value = self._cache.get(key)
        if value is None:
            shape = StepShape.model_construct(decode_seqs=float(decode), decode_context_tokens=float(context),
                                              draft_tokens=self.run.mtp, prefill_tokens=float(prefill),
                                              prefill_attended_tokens=float(attended))
            value = step_time(self.spec, self.gpu, self.dep, self.engine, shape, frontend=False).total_s
            self._cache[key] = value
        return value

    def _serve(self, gpu_s: float, emitted: float, running: int, intake: list[float]) -> tuple[float, list[float]]:
        """Share the API server between streaming this step's tokens and taking in waiting requests.

        The server is one process, shared job by job (each running stream and each request being taken
        in is one job, as asyncio tasks are). The step lasts until its tokens are streamed (at least
        its GPU time); what the server has left in that time takes in requests, first come first served.
        Returns (step seconds, sent times of the requests taken in, which reach the engine after it).
        """
        stream = emitted * self.engine.frontend_token_s if self.frontend else 0.0
        if not intake:
            return max(gpu_s, stream), []
        share = running / (running + len(intake)) if running else 0.0
        step = max(gpu_s, stream / share) if share > 0 else gpu_s
        budget = self.intake_done + max(0.0, step - stream)
        taken: list[float] = []
        r = self.engine.request_overhead_s
        while intake and budget >= r:
            taken.append(intake.pop(0))
            budget -= r
        self.intake_done = budget if intake else 0.0
        return step, taken

    def replay(self, requests: int, clients: int | None, rate: float | None) -> RunResult:
        run, out = self.run, self.run.output_len
        if run.arrival == "burst":
            sends, issued = [0.0] * requests, requests
        elif run.arrival == "closed_loop":
            issued = min(requests, clients or requests)
            sends = [0.0] * issued
        else:
            sends, issued = [i / rate for i in range(requests)], requests
        sends.reverse()  # future sends, latest first
        self.intake_done = 0.0
        intake: list[float] = []  # sent, not yet taken in by the API server
        waiting: list[list[float]] = []  # [sent_s, prompt tokens done], first come first served
        cohorts: list[_Cohort] = []
        t = ttft_sum = tpot_sum = running_time = 0.0
        done = steps = events = 0
        while done < requests and events < _MAX_EVENTS:
            events += 1
            while sends and sends[-1] <= t + 1e-12:
                intake.append(sends.pop())
            running = sum(c.count for c in cohorts)
            if not running and not waiting:
                if intake:  # the server alone: take in the next request
                    t += max(0.0, self.engine.request_overhead_s - self.intake_done)
                    waiting.append([intake.pop(0), 0.0])
                    self.intake_done = 0.0
                else:
                    t = sends[-1]
                continue
            context = self._mean_context(cohorts, running)
            finished_prefill: list[float] = []
            if waiting and running < self.max_batch:
                gpu, finished_prefill, advance = self._admit(waiting, running, context)
                n = 1
                emitted = running * advance + len(finished_prefill)
            else:  # a decode-only stretch, up to the next completion (or a send/intake that could be admitted)
                per_rank = running / self.ranks
                advance = self.accepted
                n = min(math.ceil(c.left / self.accepted - 1e-9) for c in cohorts)
                if intake and running < self.max_batch:
                    n = 1
                elif sends and running < self.max_batch:
                    per = self._step_s(per_rank, context, 0.0, 0.0)
                    n = max(1, min(n, math.ceil((sends[-1] - t) / per - 1e-9)))
                gpu = self._step_s(per_rank, context + (n - 1) * self.accepted / 2, 0.0, 0.0)
                emitted = running * advance
            per_step, taken = self._serve(gpu, emitted, running, intake)
            step = n * per_step
            steps += n
            for c in cohorts:
                c.left -= n * advance
            running_time += running * step
            t += step
            waiting.extend([sent, 0.0] for sent in taken)
            if finished_prefill:
                ttft_sum += sum(t - sent for sent in finished_prefill)
                if out > 1:
                    _join(cohorts, len(finished_prefill), float(out - 1), t, out)
                else:
                    done += len(finished_prefill)
                    issued = self._refill(sends, t, len(finished_prefill), requests, issued)
            for c in [c for c in cohorts if c.left <= 1e-9]:
                cohorts.remove(c)
                tpot_sum += (c.count * t - c.first_token_sum) / max(out - 1, 1)
                done += c.count
                issued = self._refill(sends, t, c.count, requests, issued)
        return RunResult(
            mean_ttft_s=ttft_sum / requests,
            mean_tpot_s=tpot_sum / requests if out > 1 else 0.0,
            output_tokens_per_s=requests * out / t if t > 0 else 0.0,
            duration_s=t, requests=requests, mean_running=running_time / t / self.ranks if t > 0 else 0.0,
            steps=steps,
        )

    def _mean_context(self, cohorts: list[_Cohort], running: int) -> float:
        if not running:
            return 0.0
        out = self.run.output_len
        return self.run.input_len + sum(c.count * (out - 1 - c.left) for c in cohorts) / running

    def _admit(self, waiting: list[list[float]], running: int, context: float) -> tuple[float, list[float], float]:
        """One step that takes prompt tokens: (seconds, sent times of prompts it finished, decode progress).

        Prompts go round-robin to the group's ranks; the busiest rank sets the step. `mixed`: every
        rank also decodes. `prefill_first`: ranks with prompts prefill, the others decode meanwhile.
        """
        per_rank_budget = self.chunk - (running / self.ranks * (1 + self.run.mtp) if self.mixed else 0.0)
        budget = max(per_rank_budget, 1.0) * self.ranks
        used = attended_weighted = largest = 0.0
        prompts = 0
        finished: list[float] = []
        room = self.max_batch - running
        cached = self.run.cached_input_tokens
        while waiting and budget > 0 and len(finished) < room:
            head = waiting[0]
            take = min(budget, self.compute_prompt - head[1], max(per_rank_budget, 1.0))
            attended_weighted += take * (cached + head[1] + take / 2)
            head[1] += take
            used += take
            largest = max(largest, take)
            prompts += 1
            budget -= take
            if head[1] >= self.compute_prompt - 1e-9:
                finished.append(waiting.pop(0)[0])
        attended = attended_weighted / used if used else 0.0
        busiest = min(self.chunk, max(used / self.ranks, largest))
        per_rank = running / self.ranks
        if self.mixed:
            return self._step_s(per_rank, context, busiest, attended), finished, self.accepted
        prefilling = min(self.ranks, prompts) / self.ranks
        step = self._step_s(0.0, 0.0, busiest, attended)
        if prefilling < 1 and running:
            step = max(step, self._step_s(per_rank, context, 0.0, 0.0))
        return step, finished, (1.0 - prefilling) * self.accepted if running else 0.0

    def _refill(self, sends: list[float], t: float, finished: int, requests: int, issued: int) -> int:
        """Closed-loop clients send their next prompt the moment their last one finishes."""
        if self.run.arrival != "closed_loop":
            return issued
        new = min(finished, requests - issued)
        sends.extend([t] * new)
        sends.sort(reverse=True)
        return issued + new


def simulate_run(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, run: BenchmarkRun,
                 max_batch: int, *, frontend: bool = True) -> RunResult:
    """Replay `run` on one DP rank of `dep` (its share of clients and prompts) and return the benchmark's metrics.

    `output_tokens_per_s` is the whole deployment's (every DP rank the same).
    """
    ranks = dep.dp if dep.dp_attention else 1
    groups = dep.dp // ranks  # independent replicas, each with its own API server
    requests = max(1, round(run.requests / groups))
    clients = max(1, round(run.concurrency / groups)) if run.concurrency else None
    rate = run.request_rate / groups if run.request_rate else None
    result = _Group(spec, gpu, dep, engine, run, max_batch, frontend, ranks).replay(requests, clients, rate)
    return result.model_copy(update={"output_tokens_per_s": result.output_tokens_per_s * groups,
                                     "requests": requests * groups})
