"""The project's labelled review pairs (``evals/data/review_pairs.jsonl``): schema and balance.

The set is what ``gra bench-review`` is meant to be run on, so its shape is a contract: valid
lines, at least 30 pairs per domain, half of them sound, the seven defect kinds in equal
numbers and spread over the domains, and no instruction used twice.
"""

from __future__ import annotations

import re
from collections import Counter

from gra_graph.bench.pairs import DEFECT_KINDS, read_pairs
from gra_graph.vocabulary import DOMAINS
from tests.support.helpers import ROOT

PAIRS = ROOT / "evals" / "data" / "review_pairs.jsonl"


def test_every_line_is_a_valid_pair():
    pairs = read_pairs(PAIRS)  # raises, naming the line, on any malformed or repeated pair
    assert len(pairs) >= 210


def test_each_domain_has_at_least_30_pairs_half_of_them_sound():
    pairs = [p.pair for p in read_pairs(PAIRS)]
    for domain in DOMAINS:
        these = [p for p in pairs if p.domain == domain]
        assert len(these) >= 30, domain
        assert sum(p.sound for p in these) * 2 == len(these), domain
    assert sum(p.sound for p in pairs) * 2 == len(pairs)


def test_every_defect_kind_appears_in_roughly_equal_numbers_in_every_domain():
    pairs = [p.pair for p in read_pairs(PAIRS)]
    kinds = Counter(p.defect for p in pairs if not p.sound)
    assert set(kinds) == set(DEFECT_KINDS)
    assert max(kinds.values()) - min(kinds.values()) <= 1, kinds
    for domain in DOMAINS:
        per_domain = Counter(p.defect for p in pairs if p.domain == domain and not p.sound)
        assert set(per_domain) == set(DEFECT_KINDS), domain
        assert max(per_domain.values()) - min(per_domain.values()) <= 1, (domain, per_domain)


def test_no_two_instructions_are_the_same():
    pairs = [p.pair for p in read_pairs(PAIRS)]
    normalised = Counter(re.sub(r"\W+", " ", p.instruction).strip().lower() for p in pairs)
    assert [text for text, n in normalised.items() if n > 1] == []


def test_responses_are_short_enough_for_small_models():
    words = [len(p.pair.response.split()) for p in read_pairs(PAIRS)]
    assert max(words) <= 150
    assert sum(w <= 120 for w in words) >= 0.9 * len(words)


def test_the_first_14_pairs_cover_every_domain_and_every_defect_once():
    """So ``--limit 14`` is a fair first look: 2 pairs per domain, 7 sound, each kind once."""
    first = [p.pair for p in read_pairs(PAIRS, limit=14)]
    assert Counter(p.domain for p in first) == dict.fromkeys(DOMAINS, 2)
    assert sorted(p.defect for p in first if not p.sound) == sorted(DEFECT_KINDS)
