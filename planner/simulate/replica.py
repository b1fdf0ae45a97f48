"""Continuous batching of one self-hosted replica, event by event (vLLM V1 / SGLang scheduling).

Each DP rank runs engine steps. A step decodes one token for every running sequence and spends
the rest of a `chunk_tokens` budget (vLLM's `max_num_batched_tokens`) on prompt tokens of admitted
requests, first come first served (chunked prefill); its length is `step_time_s` of the planner's
model. A request's first token leaves at the end of the step that finishes its prompt.

Admission (at step boundaries, in arrival order, stopping at the first that does not fit, as vLLM's
FCFS scheduler does): while the step's token budget lasts, fewer than `max_num_seqs` run on the
rank, and the request's prompt fits in the rank's KV cache next to what running sequences hold;
the rest wait (`vllm:num_requests_waiting`). Running sequences grow by a token a step;
when the cache is full the most recently started one is preempted and later recomputed (vLLM's
default RECOMPUTE preemption): it goes back to the head of the queue and prefills its prompt and
the tokens it had generated again. Cached prompt tokens (`cached_tokens`, prefix caching) take KV
space but no prefill compute. A request whose prompt alone exceeds the rank's cache is rejected.

Speed: between events nothing changes the batch, so a run of decode-only steps is one segment
(`k` steps of equal length, until the earliest sequence finishes or the cache fills) and costs O(1)
whatever its length; an arrival that can be admitted cuts the segment at the next step boundary.
Sequences keep their finish step in a heap, and total context is kept as
`ctx_base + running x steps`, so a step never touches every sequence.

DP ranks (`dp > 1`) each have their own cache and batch; a new request goes to the rank with the
lowest `4 x waiting + running`, the score vLLM's data-parallel load balancer uses.

The replica does not own a clock: it calls `schedule(at_s, callback, arg)` to be woken
(`planner.simulate.events.EventLoop.schedule` in simulations; the emulator maps it onto asyncio's
`call_at`), so the same code times simulated and emulated backends.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Protocol

from planner.simulate.events import Schedule
from planner.simulate.step_model import ReplicaTiming, step_time_s

__all__ = ["ReplicaRequest", "ReplicaListener", "ReplicaSim", "ReplicaLoad"]

_WAITING, _PREFILLING, _DECODING, _DONE, _CANCELLED = range(5)
_EPSILON = 1e-9


class ReplicaRequest:
    """One request on a replica; `tag` is the caller's, untouched."""

    __slots__ = ("prompt_tokens", "cached_tokens", "output_tokens", "tag", "first_token_s", "finished_s",
                 "_state", "_rank", "_kv_size", "_prefill_left", "_generated", "_order", "_join_step", "_ctx_join")

    def __init__(self, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0, tag: object = None) -> None:
        self.prompt_tokens = max(1, prompt_tokens)
        self.cached_tokens = min(max(0, cached_tokens), self.prompt_tokens - 1)
        self.output_tokens = max(1, output_tokens)
        self.tag = tag
        self.first_token_s: float | None = None
        self.finished_s: float | None = None
        self._state = _WAITING
        self._rank: _Rank | None = None
        self._kv_size = self.prompt_tokens  # KV tokens it holds once prefilled
        self._prefill_left = self.prompt_tokens - self.cached_tokens
        self._generated = 0
        self._order = 0
        self._join_step = 0
        self._ctx_join = 0

    @property
    def generated_tokens(self) -> int:
        """Output tokens emitted so far (as of the rank's last step boundary)."""
        if self._state == _DECODING and self._rank is not None:
            return self._generated + self._rank.steps - self._join_step
        return self._generated


class ReplicaListener(Protocol):
    """Told what happens to each request, at the simulated time it happens."""

    def first_token(self, request: ReplicaRequest, at_s: float) -> None: ...

    def finished(self, request: ReplicaRequest, at_s: float) -> None: ...

    def rejected(self, request: ReplicaRequest, at_s: float, reason: str) -> None: ...


class ReplicaLoad:
    """What the engine's /metrics page would show: vllm:num_requests_waiting, _running, kv_cache_usage_perc."""

    __slots__ = ("waiting", "running", "kv_usage")

    def __init__(self, waiting: int, running: int, kv_usage: float) -> None:
        self.waiting, self.running, self.kv_usage = waiting, running, kv_usage


class _Rank:
    __slots__ = ("waiting", "prefilling", "decoding", "finish_heap", "steps", "ctx_base", "prefill_kv", "at_s",
                 "seg_start_s", "seg_step_s", "seg_steps", "seg_plan", "seg_end_s", "version", "next_order")

    def __init__(self) -> None:
        self.waiting: deque[ReplicaRequest] = deque()
        self.prefilling: list[ReplicaRequest] = []
        self.decoding: dict[int, ReplicaRequest] = {}  # join order -> request (newest last: preempted first)
        self.finish_heap: list[tuple[int, int, ReplicaRequest]] = []
        self.steps = 0  # engine steps run with a decoding batch
        self.ctx_base = 0  # sum over decoding of (context at join - steps at join)
        self.prefill_kv = 0  # KV tokens held or reserved by requests in prefill
        self.at_s = 0.0  # the step boundary the state describes
        self.seg_start_s = 0.0
        self.seg_step_s = 0.0
        self.seg_steps = 0
        self.seg_plan: list[tuple[ReplicaRequest, int]] | None = None  # prefill chunks of a mixed step
        self.seg_end_s: float | None = None  # None: idle
        self.version = 0
        self.next_order = 0

    def running(self) -> int:
        return len(self.prefilling) + len(self.decoding)

    def kv_committed(self) -> int:
        return self.ctx_base + len(self.decoding) * self.steps + self.prefill_kv


class ReplicaSim:
    """One replica (all its DP ranks) of a deployment timed by the planner."""

    def __init__(self, timing: ReplicaTiming, listener: ReplicaListener, schedule: Schedule) -> None:
        self.timing = timing
        self.listener = listener
        self._schedule = schedule
        self._ranks = [_Rank() for _ in range(timing.dp_ranks)]
        self._capacity = max(1, timing.kv_tokens_per_rank)
        self._max_seqs = max(1, timing.max_num_seqs)
        self._chunk = timing.chunk_tokens

    # --- what callers do ------------------------------------------------------------------------

    def submit(self, request: ReplicaRequest, now_s: float) -> None:
        """A request arrives at `now_s`; it joins its rank's queue and is admitted at a step boundary."""
        ranks = self._ranks
        rank = ranks[0] if len(ranks) == 1 else min(ranks, key=lambda r: 4 * len(r.waiting) + r.running())
        request._rank = rank
        request._state = _WAITING
        rank.waiting.append(request)
        if rank.seg_end_s is None:  # idle: start stepping once every request arriving at this instant is in
            rank.at_s = max(rank.at_s, now_s)
            rank.version += 1
            rank.seg_start_s = rank.seg_end_s = rank.at_s
            rank.seg_step_s, rank.seg_steps, rank.seg_plan = 0.0, 0, None
            self._schedule(rank.at_s, self._wake, (rank, rank.version))
        elif rank.seg_plan is None and len(rank.waiting) == 1 and self._fits(rank, request):
            self._cut(rank, now_s)  # join the batch at the next step boundary instead of the segment's end

    def cancel(self, request: ReplicaRequest, now_s: float) -> None:
        """The caller gave up on `request` (a timeout): it leaves the queue or the batch, freeing its KV."""
        rank = request._rank
        if rank is None or request._state in (_DONE, _CANCELLED):
            return
        if rank.seg_end_s is not None and rank.seg_plan is None:
            self._cut(rank, now_s, replan=False)  # settle the decode run to the next step boundary
        state = request._state
        if state == _DONE:  # it finished at that boundary
            self._plan(rank)
            return
        request._state = _CANCELLED
        if state == _WAITING:
            rank.waiting.remove(request)
        elif state == _PREFILLING:
            rank.prefilling.remove(request)
            rank.prefill_kv -= request._kv_size
        else:
            self._leave_decoding(rank, request)
        if rank.seg_end_s is None:  # idle, or its decode run was cut: start again from here
            rank.at_s = max(rank.at_s, now_s)
            self._plan(rank)

    def load(self, now_s: float) -> ReplicaLoad:
        """Queue, running count and KV-cache usage now (KV: the fullest rank, as a scrape reports it)."""
        waiting = running = 0
        kv = 0.0
        for rank in self._ranks:
            waiting += len(rank.waiting)
            running += rank.running()
            committed = rank.kv_committed()
            if rank.seg_end_s is not None and rank.seg_plan is None and rank.seg_step_s > 0:
                done = min(rank.seg_steps, int((now_s - rank.seg_start_s) / rank.seg_step_s))
                committed += len(rank.decoding) * max(0, done)
            kv = max(kv, committed / self._capacity)
        return ReplicaLoad(waiting, running, min(1.0, kv))

    def step_s(self, request: ReplicaRequest) -> float:
        """The length of the step its rank is running now (0 when idle): the pace of its tokens."""
        rank = request._rank
        return rank.seg_step_s if rank is not None and rank.seg_end_s is not None else 0.0

    @property
    def idle(self) -> bool:
        return all(rank.seg_end_s is None and not rank.waiting for rank in self._ranks)

    # --- scheduling -------------------------------------------------------------------------------

    def _fits(self, rank: _Rank, request: ReplicaRequest) -> bool:
        return rank.running() < self._max_seqs and rank.kv_committed() + request._kv_size <= self._capacity

    def _earliest_finish(self, rank: _Rank) -> int:
        heap, decoding = rank.finish_heap, rank.decoding
        while heap:
            finish, order, request = heap[0]
            if decoding.get(order) is request:
                return finish
            heapq.heappop(heap)  # preempted or cancelled since
        raise AssertionError("decoding sequences without a finish step")

    def _preempt_newest(self, rank: _Rank) -> None:
        order, request = next(reversed(rank.decoding.items()))
        generated = request._generated + rank.steps - request._join_step
        self._leave_decoding(rank, request)
        request._generated = generated
        request._kv_size = request.prompt_tokens + generated
        request._prefill_left = request._kv_size
        request._state = _WAITING
        rank.waiting.appendleft(request)

    def _leave_decoding(self, rank: _Rank, request: ReplicaRequest) -> None:
        del rank.decoding[request._order]
        rank.ctx_base -= request._ctx_join - request._join_step

    def _plan(self, rank: _Rank) -> None:
        """Start the next segment at `rank.at_s` (a step boundary), or go idle.

        Like vLLM V1's scheduler: running sequences first (a decode token each, then the prompts in
        prefill), then new requests from the queue while the step's token budget lasts.
        """
        decoding = rank.decoding
        while len(decoding) > 1 and rank.kv_committed() + len(decoding) > self._capacity:
            self._preempt_newest(rank)  # the cache cannot hold another token for each: make room
        n_dec = len(decoding)
        budget = self._chunk - n_dec
        plan: list[tuple[ReplicaRequest, int]] = []
        tokens = 0
        for request in rank.prefilling:
            if budget <= 0:
                break
            take = min(budget, request._prefill_left)
            plan.append((request, take))
            budget -= take
            tokens += take
        waiting = rank.waiting
        while waiting and budget > 0:
            request = waiting[0]
            running = rank.running()
            if running >= self._max_seqs:
                break
            if rank.kv_committed() + request._kv_size > self._capacity:
                if running == 0 and request._kv_size > self._capacity:  # can never fit: the engine refuses it
                    waiting.popleft()
                    request._state = _CANCELLED
                    self.listener.rejected(request, rank.at_s, f"prompt of {request._kv_size} tokens exceeds the "
                                                                f"KV cache of {self._capacity} tokens per DP rank")
                    continue
                break
            waiting.popleft()
            request._state = _PREFILLING
            rank.prefilling.append(request)
            rank.prefill_kv += request._kv_size
            take = min(budget, request._prefill_left)
            plan.append((request, take))
            budget -= take
            tokens += take
        timing = self.timing
        if plan:
            context = (rank.ctx_base + n_dec * rank.steps) / n_dec if n_dec else 0.0
            step = step_time_s(timing, n_dec, context, tokens, plan[0][0]._kv_size)
            steps = 1
            rank.seg_plan = plan
        elif n_dec:
            steps = self._earliest_finish(rank) - rank.steps
            room = self._capacity - rank.kv_committed()
            if room >= n_dec:
                steps = min(steps, room // n_dec)
            steps = max(1, steps)
            context = (rank.ctx_base + n_dec * rank.steps) / n_dec + steps / 2
            step = step_time_s(timing, n_dec, context)
            rank.seg_plan = None
        else:
            rank.seg_end_s = None
            rank.seg_plan = None
            return
        rank.version += 1
        rank.seg_start_s = rank.at_s
        rank.seg_step_s = step
        rank.seg_steps = steps
        rank.seg_end_s = end = rank.at_s + step * steps
        self._schedule(end, self._wake, (rank, rank.version))

    def _cut(self, rank: _Rank, now_s: float, *, replan: bool = True) -> None:
        """End a decode-only segment at the first step boundary at or after `now_s`."""
        done = math.ceil((now_s - rank.seg_start_s) / rank.seg_step_s - _EPSILON) if rank.seg_step_s > 0 else 0
        done = min(max(done, 0), rank.seg_steps)
        if done == rank.seg_steps:
            self._finish_segment(rank)
        else:
            rank.steps += done
            rank.at_s = rank.seg_start_s + done * rank.seg_step_s
            rank.version += 1
            rank.seg_end_s = None
        if replan and rank.seg_end_s is None:
            self._plan(rank)

    def _wake(self, arg: tuple[_Rank, int]) -> None:
        rank, version = arg
        if version != rank.version or rank.seg_end_s is None:
            return  # the segment was cut or cancelled since
        self._finish_segment(rank)
        self._plan(rank)

    def _finish_segment(self, rank: _Rank) -> None:
        """Apply the current segment's steps; completions and first tokens happen at its end."""
        end = rank.seg_end_s
        assert end is not None
        rank.at_s = end
        rank.seg_end_s = None
        listener = self.listener
        decoding = rank.decoding
        if decoding:
            rank.steps += rank.seg_steps
            heap, steps = rank.finish_heap, rank.steps
            while heap and heap[0][0] <= steps:
                _, order, request = heapq.heappop(heap)
                if decoding.get(order) is not request:
                    continue
                self._leave_decoding(rank, request)
                request._generated = request.output_tokens
                request._state = _DONE
                request.finished_s = end
                listener.finished(request, end)
        plan = rank.seg_plan
        if plan:
            rank.seg_plan = None
            for request, take in plan:
                if request._state != _PREFILLING:
                    continue  # cancelled during the step
                request._prefill_left -= take
                if request._prefill_left > 0:
                    continue
                rank.prefilling.remove(request)
                rank.prefill_kv -= request._kv_size
                request._generated += 1
                if request.first_token_s is None:
                    request.first_token_s = end
                    listener.first_token(request, end)
                if request._generated >= request.output_tokens:
                    request._state = _DONE
                    request.finished_s = end
                    listener.finished(request, end)
                    continue
                request._state = _DECODING
                rank.next_order += 1
                request._order = rank.next_order
                request._join_step = rank.steps
                request._ctx_join = request._kv_size
                decoding[request._order] = request
                rank.ctx_base += request._kv_size - rank.steps
                heapq.heappush(rank.finish_heap, (rank.steps + request.output_tokens - request._generated,
                                                  request._order, request))
