"""Traces: the JSONL format, the public CSV formats, and generated arrivals and lengths."""

from __future__ import annotations

import io
import math
import statistics

import pytest

from planner.trace import TraceError, TraceRecord, TraceShape, generate_trace, read_trace, write_jsonl
from planner.trace.generate import arrival_times


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_jsonl_records_are_read_in_arrival_order_with_every_key(tmp_path):
    path = _write(tmp_path, "t.jsonl", "\n".join([
        '{"t": 2.5, "input_tokens": 100, "output_tokens": 20, "model": "auto", "stream": true, "key": "team-a"}',
        '',
        '{"t": 0.5, "input_tokens": 4000, "output_tokens": 300, "cached_tokens": 3000, "thinking": true, '
        '"tools": true, "max_tokens": 512, "headers": {"x-tier": "gold"}}',
    ]))
    trace = read_trace(path)
    assert [r.t for r in trace.records] == [0.5, 2.5]
    first = trace.records[0]
    assert (first.cached_tokens, first.thinking, first.tools, first.max_tokens, first.headers) == (
        3000, True, True, 512, {"x-tier": "gold"})
    assert trace.span_s == 2.5


def test_a_body_without_input_tokens_is_counted_at_four_characters_a_token():
    record = TraceRecord(t=0, output_tokens=5, body={"model": "auto", "messages": [{"role": "user", "content": "x" * 400}]})
    assert record.input_tokens == 100


@pytest.mark.parametrize(("line", "message"), [
    ('{"t": 1, "output_tokens": 3}', "t.jsonl:2: give input_tokens, or a body to count them from"),
    ('{"t": -1, "input_tokens": 1, "output_tokens": 3}', "t.jsonl:2: t: Input should be greater than or equal to 0"),
    ('{"t": 1, "input_tokens": 1, "output_tokens": 3, "colour": "red"}', "t.jsonl:2: unknown key 'colour'"),
    ('{"t": 1, "input_tokens": 10, "output_tokens": 3, "cached_tokens": 11}', "t.jsonl:2: cached_tokens 11 > input_tokens 10"),
    ("not json", "t.jsonl:2: not a JSON object"),
])
def test_a_bad_line_is_reported_with_its_file_and_line(tmp_path, line, message):
    path = _write(tmp_path, "t.jsonl", '{"t": 0, "input_tokens": 1, "output_tokens": 1}\n' + line + "\n")
    with pytest.raises(TraceError) as error:
        read_trace(path)
    assert str(error.value) == path.replace("t.jsonl", "") + message


def test_written_jsonl_reads_back_the_same_records():
    trace = generate_trace(TraceShape(duration_s=30, rps=5, stream_share=0.5, thinking_share=0.3, cached_share=0.25,
                                      max_tokens=True, seed=4))
    out = io.StringIO()
    assert write_jsonl(trace.records, out) == len(trace)
    from planner.trace import parse_jsonl

    again = parse_jsonl(out.getvalue().encode().splitlines(), "x")
    assert [(r.input_tokens, r.output_tokens, r.stream, r.thinking, r.cached_tokens, r.max_tokens) for r in again] == [
        (r.input_tokens, r.output_tokens, r.stream, r.thinking, r.cached_tokens, r.max_tokens) for r in trace.records]
    assert [round(r.t, 6) for r in again] == [round(r.t, 6) for r in trace.records]


def test_an_azure_llm_inference_trace_is_read_with_times_from_its_first_request(tmp_path):
    path = _write(tmp_path, "AzureLLMInferenceTrace_conv.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                  "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n"
                  "2023-11-16 18:15:51.0000000,879,28\n")
    trace = read_trace(path)
    assert [(round(r.t, 3), r.input_tokens, r.output_tokens) for r in trace.records] == [
        (0.0, 374, 44), (4.315, 396, 109), (4.319, 879, 28)]
    assert trace.source.endswith("(azure)")


def test_a_burstgpt_trace_skips_failed_requests_and_counts_them(tmp_path):
    path = _write(tmp_path, "BurstGPT_1.csv", "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                  "5,ChatGPT,472,18,490,Conversation log\n6,GPT-4,1087,0,1087,Conversation log\n"
                  "7.5,ChatGPT,301,230,531,API log\n")
    trace = read_trace(path)
    assert [(r.t, r.input_tokens, r.output_tokens) for r in trace.records] == [(0.0, 472, 18), (2.5, 301, 230)]
    assert trace.skipped == 1


def test_a_csv_with_another_header_is_refused_naming_the_formats(tmp_path):
    with pytest.raises(TraceError, match="unknown CSV header; expected TIMESTAMP,ContextTokens,GeneratedTokens"):
        read_trace(_write(tmp_path, "x.csv", "when,prompt,answer\n1,2,3\n"))


def test_a_missing_file_is_one_readable_error(tmp_path):
    with pytest.raises(TraceError, match="cannot read the trace"):
        read_trace(str(tmp_path / "nope.jsonl"))


def test_generation_is_deterministic_for_a_seed():
    shape = TraceShape(duration_s=60, rps=20, seed=9)
    assert generate_trace(shape).records == generate_trace(shape).records
    assert generate_trace(shape).records != generate_trace(shape.model_copy(update={"seed": 10})).records


def test_poisson_arrivals_have_the_asked_rate_and_exponential_gaps():
    trace = generate_trace(TraceShape(duration_s=2000, rps=10, seed=1))
    assert len(trace) == pytest.approx(20_000, rel=0.03)
    gaps = [b.t - a.t for a, b in zip(trace.records, trace.records[1:])]
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)  # exponential: CV = 1


def _per_window(times, width_s, span_s):
    counts = [0] * math.ceil(span_s / width_s)
    for t in times:
        counts[int(t // width_s)] += 1
    return counts


def test_diurnal_arrivals_peak_half_a_period_after_the_trough():
    import random

    shape = TraceShape(duration_s=1000, rps=20, arrival="diurnal", amplitude=0.5, period_s=1000)
    counts = _per_window(list(arrival_times(shape, random.Random(3))), 100, 1000)
    assert counts[0] < counts[4] and counts[9] < counts[5]
    assert counts[4] + counts[5] == pytest.approx(2 * 100 * 20 * 1.5 * 0.95, rel=0.12)
    assert sum(counts) == pytest.approx(20_000, rel=0.05)


def test_bursty_arrivals_keep_the_mean_but_are_overdispersed():
    import random

    poisson = _per_window(list(arrival_times(TraceShape(duration_s=3000, rps=10), random.Random(5))), 10, 3000)
    bursty = _per_window(list(arrival_times(TraceShape(duration_s=3000, rps=10, arrival="bursty"), random.Random(5))), 10, 3000)
    assert sum(bursty) == pytest.approx(sum(poisson), rel=0.15)
    dispersion = statistics.variance(bursty) / statistics.mean(bursty)
    assert statistics.variance(poisson) / statistics.mean(poisson) < 1.5 < dispersion


def test_lognormal_lengths_have_the_asked_medians_and_are_clipped():
    trace = generate_trace(TraceShape(duration_s=500, rps=20, input_median=2000, output_median=300, output_max=1000, seed=2))
    assert statistics.median(r.input_tokens for r in trace.records) == pytest.approx(2000, rel=0.08)
    assert statistics.median(r.output_tokens for r in trace.records) == pytest.approx(300, rel=0.08)
    assert max(r.output_tokens for r in trace.records) == 1000


def test_empirical_lengths_are_drawn_from_another_trace():
    source = generate_trace(TraceShape(duration_s=20, rps=2, seed=1))
    pairs = {(r.input_tokens, r.output_tokens) for r in source.records}
    trace = generate_trace(TraceShape(duration_s=60, rps=10, lengths="empirical", seed=3), empirical=source)
    assert {(r.input_tokens, r.output_tokens) for r in trace.records} <= pairs
