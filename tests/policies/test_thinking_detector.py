"""The thinking detector: held-back cases of every tricky kind, the test split's figures, bounded
work on huge prompts, odd bodies, and the weight file tied to its training data."""

from __future__ import annotations

import json

import pytest

from benchmarks.harness.classification import auroc, binary_scores
from benchmarks.harness.thinking_cases import load_cases
from policies.thinking_cues import CueLexicon
from policies.thinking_detector import FEATURE_NAMES, WEIGHTS_PATH, ThinkingModel, feature_vector, thinking_score

TEST_CASES = {case.id.removeprefix("test/"): case for case in load_cases("test")}

# Held-back cases (test split, never trained on), by the trap they set for a detector.
TRICKY = {
    "long rewrite, translation, summary or extraction (length alone)": [
        "rewrite-02", "rewrite-03", "long-13", "long-14", "long-16", "long-15", "format-09", "sum-07"],
    "short proof or problem (brevity alone)": ["proof-03", "proof-05", "proof-06", "math-02", "math-06", "puzzle-05"],
    "numbers in an easy task": ["arith-01", "arith-03", "format-05", "format-07", "trans-08"],
    "code in an easy task": ["codeeasy-03", "codeeasy-05", "codeeasy-06", "conv-13"],
    "maths words in a text to translate or summarise": ["trans-05", "trans-04", "trans-09", "sum-03"],
    "an algorithm or fact to recall, not to work out": ["explain-05", "lookup-08"],
    "a problem with no keyword": ["math-01", "puzzle-01"],
    "long problem statement": ["long-01", "long-06", "est-06", "plan-01", "debug-01"],
    "earlier turns and system prompts": ["conv-01", "conv-02", "conv-07", "conv-08", "conv-09", "conv-15", "conv-16"],
    "other languages, also unseen in training (nl, ko)": [
        "math-12", "proof-09", "algo-08", "math-09", "chat-07", "lookup-10"],
}
TABLE = [(kind, case_id) for kind, ids in TRICKY.items() for case_id in ids]


@pytest.mark.parametrize(("kind", "case_id"), TABLE, ids=[f"{case_id}" for _, case_id in TABLE])
def test_held_back_case_is_judged_right(kind, case_id):
    case = TEST_CASES[case_id]
    score = thinking_score(case.body)
    assert (score >= 0.5) is case.needs_thinking, f"{kind}: {case_id} scored {score}"


def test_the_test_split_meets_the_targets():
    cases = list(TEST_CASES.values())
    scores = [thinking_score(case.body) for case in cases]
    labels = [case.needs_thinking for case in cases]
    assert auroc(scores, labels) >= 0.92
    assert binary_scores([s >= 0.5 for s in scores], labels).accuracy >= 0.88


def test_length_alone_does_not_mean_thinking():
    for words in (1_000, 20_000, 105_000):
        assert thinking_score({"messages": [{"role": "user", "content": "word " * words}]}) < 0.5


def test_a_huge_prompt_is_read_only_at_its_ends():
    head, tail = "Summarise the report below in five bullet points.\n\n", "\n\nKeep it short."
    filler = "The committee reviewed the quarterly figures and asked for a revised plan. " * 2700
    other = "Prove that the algorithm is optimal and derive its complexity step by step. " * 2700
    first = {"messages": [{"role": "user", "content": head + filler + tail}]}
    second = {"messages": [{"role": "user", "content": head + filler[:20_000] + other + filler[-20_000:] + tail}]}
    assert len(first["messages"][0]["content"]) > 200_000
    assert feature_vector(first) == feature_vector(second)  # the middle 160K characters are never looked at
    assert thinking_score(first) < 0.5


def test_the_score_is_a_deterministic_probability():
    body = TEST_CASES["proof-06"].body
    first = thinking_score(body)
    for case in TEST_CASES.values():  # fill the token cache with everything else
        thinking_score(case.body)
    assert thinking_score(body) == first
    assert 0.0 <= first <= 1.0


@pytest.mark.parametrize(
    "body",
    [
        {}, {"messages": None}, {"messages": "hello"}, {"messages": []}, {"messages": [None, 3, "x"]},
        {"messages": [{"role": "user"}]}, {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}, "text"]}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Prove that 2 + 2 = 4."}]}]},
        {"messages": [{"role": "system", "content": 17}, {"role": "tool", "content": "{}"}]},
        {"prompt": ["Solve x^2 = 4", 5]}, {"prompt": 42}, {"prompt": "```" * 1000},
        {"messages": [{"role": "user", "content": "\u8bc1" * 250_000}]},
    ],
)
def test_odd_bodies_get_a_score_and_never_raise(body):
    assert 0.0 <= thinking_score(body) <= 1.0


def test_chat_content_parts_and_completions_prompts_count_like_plain_text():
    text = "Prove that there are infinitely many primes of the form 4k + 3."
    plain = thinking_score({"messages": [{"role": "user", "content": text}]})
    assert thinking_score({"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}) == plain
    assert thinking_score({"prompt": text}) == plain
    assert plain >= 0.5


def test_the_shipped_weights_are_what_training_on_the_training_split_gives():
    from benchmarks.train_thinking_detector import data_fingerprint, train_weights

    shipped = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert shipped["train_sha256"] == data_fingerprint("train"), "training data changed: retrain the detector"
    fresh = train_weights(shipped["l2"])
    assert shipped["features"] == list(FEATURE_NAMES)
    assert fresh["bias"] == pytest.approx(shipped["bias"], abs=1e-5)
    for name in FEATURE_NAMES:
        assert fresh["weights"][name] == pytest.approx(shipped["weights"][name], abs=1e-5), name


def test_a_weight_file_for_other_features_is_refused(tmp_path):
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1] + ["shape.something_else"]
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="do not match the detector's features"):
        ThinkingModel.load(path)


def test_cue_entries_are_read_as_words_stems_pairs_and_character_pairs():
    lexicon = CueLexicon({"hard": "prove induct* show+that in+a+row 证明", "easy": "translat*"})
    assert lexicon.category("prove") == 0 and lexicon.category("proves") == -1
    assert lexicon.category("induction") == 0 and lexicon.category("translated") == 1
    assert lexicon.pairs["show"] == {"that": 0} and lexicon.pairs["a"] == {"row": 0}
    assert lexicon.east_asian == {"证明": 0}
    with pytest.raises(ValueError, match="two characters"):
        CueLexicon({"hard": "为什么"})
