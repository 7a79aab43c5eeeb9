"""The false-positive estimate: own verdicts count as they are, an unreviewed document borrows
the verdicts of reviewed flags like it, and what nothing like it was reviewed is left out."""

from domain.fp_estimate import MIN_STRATUM_VERDICTS, estimate_of, features_of
from domain.thresholds import RuleThresholds
from domain.verdicts import Label

from ._cases import case

BASE = RuleThresholds()


def test_own_verdicts_count_as_they_are():
    cases = [case(1, 0.5, Label.FALSE_POSITIVE), case(2, 0.5, Label.REMOVED)]
    features = features_of(cases, BASE, [80.0])
    assert [f.estimate for f in features] == [1.0, 0.0]
    assert all(f.own_verdict for f in features)
    estimate = estimate_of(features, [True, True])
    assert (estimate.rate, estimate.coverage, estimate.verdicts) == (0.5, 1.0, 2)


def test_an_unreviewed_document_borrows_the_verdicts_of_reviewed_flags_like_it():
    # Confidence 0.81-0.819: one 0.02 band. Three of ten reviewed flags there were fine.
    reviewed = [
        case(n, 0.810 + n / 1000, Label.FALSE_POSITIVE if n < 3 else Label.CORRECTED)
        for n in range(10)
    ]
    unreviewed = case(99, 0.815)
    far = case(100, 0.95)  # nothing reviewed near it
    features = features_of([*reviewed, unreviewed, far], BASE, [80.0])
    assert features[10].estimate == 0.3 and not features[10].own_verdict
    assert features[11].estimate is None
    estimate = estimate_of(features, [False] * 10 + [True, True])
    assert (estimate.flagged, estimate.supported, estimate.coverage) == (2, 1, 0.5)


def test_problems_found_after_auto_approval_are_not_borrowed():
    # Found because they were wrong: as many as you like say nothing about the others there.
    missed = [case(n, 0.9, Label.MISSED_CORRECTED) for n in range(MIN_STRATUM_VERDICTS + 2)]
    features = features_of([*missed, case(99, 0.9)], BASE, [80.0])
    assert features[-1].estimate is None
    assert features[0].estimate is None and features[0].known_problem


def test_too_few_verdicts_in_the_narrow_band_borrow_from_the_wide_one():
    # 0.80-0.82 has 3 verdicts, 0.80-0.85 has 9: the wide band speaks.
    reviewed = [case(n, 0.805, Label.CORRECTED) for n in range(3)]
    reviewed += [case(10 + n, 0.835, Label.FALSE_POSITIVE) for n in range(6)]
    features = features_of([*reviewed, case(99, 0.81)], BASE, [80.0])
    assert features[-1].estimate == 6 / 9
    interval = estimate_of(features, [True] * 10).interval
    assert interval is not None and interval[0] < 6 / 10 < interval[1]
