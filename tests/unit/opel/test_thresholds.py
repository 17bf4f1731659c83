"""Every parameter of every shipped profile, just below, at and just above each of its
thresholds: the score changes exactly at the threshold ("at or above" reaches it).

The figures are worked by hand from the profile files; if a shipped threshold changes, this
table must be worked again (a new profile version), not regenerated.
"""

from __future__ import annotations

import pytest

from flotilla.opel import score, shipped

# (profile, parameter, the measures' figures, the parameter's score)
CASES = [
    # -- acute --------------------------------------------------------------------------------
    # G&A occupancy = ga_occupied ÷ ga_open: 2 from 92%, 3 from 95%, 4 from 98%.
    ("acute", "ga_occupancy", {"ga_occupied": 919, "ga_open": 1000}, 1),
    ("acute", "ga_occupancy", {"ga_occupied": 92, "ga_open": 100}, 2),
    ("acute", "ga_occupancy", {"ga_occupied": 921, "ga_open": 1000}, 2),
    ("acute", "ga_occupancy", {"ga_occupied": 949, "ga_open": 1000}, 2),
    ("acute", "ga_occupancy", {"ga_occupied": 95, "ga_open": 100}, 3),
    ("acute", "ga_occupancy", {"ga_occupied": 951, "ga_open": 1000}, 3),
    ("acute", "ga_occupancy", {"ga_occupied": 979, "ga_open": 1000}, 3),
    ("acute", "ga_occupancy", {"ga_occupied": 98, "ga_open": 100}, 4),
    ("acute", "ga_occupancy", {"ga_occupied": 981, "ga_open": 1000}, 4),
    # Adult critical care occupancy: 2 from 80%, 3 from 90%, 4 from 95%.
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 79, "cc_adult_open": 100}, 1),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 16, "cc_adult_open": 20}, 2),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 81, "cc_adult_open": 100}, 2),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 89, "cc_adult_open": 100}, 2),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 18, "cc_adult_open": 20}, 3),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 91, "cc_adult_open": 100}, 3),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 94, "cc_adult_open": 100}, 3),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 19, "cc_adult_open": 20}, 4),
    ("acute", "cc_adult_occupancy", {"cc_adult_occupied": 96, "cc_adult_open": 100}, 4),
    # Share of occupied G&A beds held by patients with no criteria to reside = nctr ÷
    # ga_occupied: 2 from 10%, 3 from 15%, 4 from 20%.
    ("acute", "nctr_share", {"nctr": 49, "ga_occupied": 500}, 1),
    ("acute", "nctr_share", {"nctr": 50, "ga_occupied": 500}, 2),
    ("acute", "nctr_share", {"nctr": 51, "ga_occupied": 500}, 2),
    ("acute", "nctr_share", {"nctr": 74, "ga_occupied": 500}, 2),
    ("acute", "nctr_share", {"nctr": 75, "ga_occupied": 500}, 3),
    ("acute", "nctr_share", {"nctr": 76, "ga_occupied": 500}, 3),
    ("acute", "nctr_share", {"nctr": 99, "ga_occupied": 500}, 3),
    ("acute", "nctr_share", {"nctr": 100, "ga_occupied": 500}, 4),
    ("acute", "nctr_share", {"nctr": 101, "ga_occupied": 500}, 4),
    # Ambulance handovers over 60 minutes: 2 from 1, 3 from 5, 4 from 10.
    ("acute", "handover_over_60", {"handover_over_60": 0}, 1),
    ("acute", "handover_over_60", {"handover_over_60": 1}, 2),
    ("acute", "handover_over_60", {"handover_over_60": 2}, 2),
    ("acute", "handover_over_60", {"handover_over_60": 4}, 2),
    ("acute", "handover_over_60", {"handover_over_60": 5}, 3),
    ("acute", "handover_over_60", {"handover_over_60": 6}, 3),
    ("acute", "handover_over_60", {"handover_over_60": 9}, 3),
    ("acute", "handover_over_60", {"handover_over_60": 10}, 4),
    ("acute", "handover_over_60", {"handover_over_60": 11}, 4),
    # Decisions to admit waiting: 2 from 10, 3 from 25, 4 from 40.
    ("acute", "dta_waiting", {"dta_waiting": 9}, 1),
    ("acute", "dta_waiting", {"dta_waiting": 10}, 2),
    ("acute", "dta_waiting", {"dta_waiting": 11}, 2),
    ("acute", "dta_waiting", {"dta_waiting": 24}, 2),
    ("acute", "dta_waiting", {"dta_waiting": 25}, 3),
    ("acute", "dta_waiting", {"dta_waiting": 26}, 3),
    ("acute", "dta_waiting", {"dta_waiting": 39}, 3),
    ("acute", "dta_waiting", {"dta_waiting": 40}, 4),
    ("acute", "dta_waiting", {"dta_waiting": 41}, 4),
    # Escalation beds open: 2 from 1, 3 from 10, 4 from 20.
    ("acute", "escalation_open", {"escalation_open": 0}, 1),
    ("acute", "escalation_open", {"escalation_open": 1}, 2),
    ("acute", "escalation_open", {"escalation_open": 2}, 2),
    ("acute", "escalation_open", {"escalation_open": 9}, 2),
    ("acute", "escalation_open", {"escalation_open": 10}, 3),
    ("acute", "escalation_open", {"escalation_open": 11}, 3),
    ("acute", "escalation_open", {"escalation_open": 19}, 3),
    ("acute", "escalation_open", {"escalation_open": 20}, 4),
    ("acute", "escalation_open", {"escalation_open": 21}, 4),
    # Share of open G&A beds held by patients staying over 21 days = long_stay_21 ÷ ga_open:
    # 2 from 12%, 3 from 18%, 4 from 24%.
    ("acute", "long_stay_21_share", {"long_stay_21": 59, "ga_open": 500}, 1),
    ("acute", "long_stay_21_share", {"long_stay_21": 60, "ga_open": 500}, 2),
    ("acute", "long_stay_21_share", {"long_stay_21": 61, "ga_open": 500}, 2),
    ("acute", "long_stay_21_share", {"long_stay_21": 89, "ga_open": 500}, 2),
    ("acute", "long_stay_21_share", {"long_stay_21": 90, "ga_open": 500}, 3),
    ("acute", "long_stay_21_share", {"long_stay_21": 91, "ga_open": 500}, 3),
    ("acute", "long_stay_21_share", {"long_stay_21": 119, "ga_open": 500}, 3),
    ("acute", "long_stay_21_share", {"long_stay_21": 120, "ga_open": 500}, 4),
    ("acute", "long_stay_21_share", {"long_stay_21": 121, "ga_open": 500}, 4),
    # -- mental health ------------------------------------------------------------------------
    # Adult acute occupancy = mh_adult_occupied ÷ mh_adult_open: 2 from 85%, 3 from 90%,
    # 4 from 95%.
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 84, "mh_adult_open": 100}, 1),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 17, "mh_adult_open": 20}, 2),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 86, "mh_adult_open": 100}, 2),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 89, "mh_adult_open": 100}, 2),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 18, "mh_adult_open": 20}, 3),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 91, "mh_adult_open": 100}, 3),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 94, "mh_adult_open": 100}, 3),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 19, "mh_adult_open": 20}, 4),
    ("mental_health", "mh_adult_occupancy", {"mh_adult_occupied": 96, "mh_adult_open": 100}, 4),
    # Psychiatric intensive care occupancy: 2 from 80%, 3 from 90%, 4 from 95%.
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 7, "mh_picu_open": 9}, 1),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 8, "mh_picu_open": 10}, 2),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 81, "mh_picu_open": 100}, 2),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 89, "mh_picu_open": 100}, 2),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 9, "mh_picu_open": 10}, 3),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 91, "mh_picu_open": 100}, 3),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 94, "mh_picu_open": 100}, 3),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 19, "mh_picu_open": 20}, 4),
    ("mental_health", "mh_picu_occupancy", {"mh_picu_occupied": 12, "mh_picu_open": 12}, 4),
    # Older adult occupancy: 2 from 85%, 3 from 90%, 4 from 95%.
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 84, "mh_older_open": 100}, 1),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 85, "mh_older_open": 100}, 2),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 86, "mh_older_open": 100}, 2),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 89, "mh_older_open": 100}, 2),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 90, "mh_older_open": 100}, 3),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 91, "mh_older_open": 100}, 3),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 94, "mh_older_open": 100}, 3),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 95, "mh_older_open": 100}, 4),
    ("mental_health", "mh_older_occupancy", {"mh_older_occupied": 96, "mh_older_open": 100}, 4),
    # Inpatients with no criteria to reside: 2 from 5, 3 from 10, 4 from 15.
    ("mental_health", "nctr", {"nctr": 4}, 1),
    ("mental_health", "nctr", {"nctr": 5}, 2),
    ("mental_health", "nctr", {"nctr": 6}, 2),
    ("mental_health", "nctr", {"nctr": 9}, 2),
    ("mental_health", "nctr", {"nctr": 10}, 3),
    ("mental_health", "nctr", {"nctr": 11}, 3),
    ("mental_health", "nctr", {"nctr": 14}, 3),
    ("mental_health", "nctr", {"nctr": 15}, 4),
    ("mental_health", "nctr", {"nctr": 16}, 4),
    # Staff absent: 2 from 100, 3 from 200, 4 from 300.
    ("mental_health", "staff_absent", {"staff_absent": 99}, 1),
    ("mental_health", "staff_absent", {"staff_absent": 100}, 2),
    ("mental_health", "staff_absent", {"staff_absent": 101}, 2),
    ("mental_health", "staff_absent", {"staff_absent": 199}, 2),
    ("mental_health", "staff_absent", {"staff_absent": 200}, 3),
    ("mental_health", "staff_absent", {"staff_absent": 201}, 3),
    ("mental_health", "staff_absent", {"staff_absent": 299}, 3),
    ("mental_health", "staff_absent", {"staff_absent": 300}, 4),
    ("mental_health", "staff_absent", {"staff_absent": 301}, 4),
    # -- community ----------------------------------------------------------------------------
    # Inpatients with no criteria to reside: 2 from 5, 3 from 10, 4 from 20.
    ("community", "nctr", {"nctr": 4}, 1),
    ("community", "nctr", {"nctr": 5}, 2),
    ("community", "nctr", {"nctr": 6}, 2),
    ("community", "nctr", {"nctr": 9}, 2),
    ("community", "nctr", {"nctr": 10}, 3),
    ("community", "nctr", {"nctr": 11}, 3),
    ("community", "nctr", {"nctr": 19}, 3),
    ("community", "nctr", {"nctr": 20}, 4),
    ("community", "nctr", {"nctr": 21}, 4),
    # Patients staying over 21 days: 2 from 5, 3 from 10, 4 from 15.
    ("community", "long_stay_21", {"long_stay_21": 4}, 1),
    ("community", "long_stay_21", {"long_stay_21": 5}, 2),
    ("community", "long_stay_21", {"long_stay_21": 6}, 2),
    ("community", "long_stay_21", {"long_stay_21": 9}, 2),
    ("community", "long_stay_21", {"long_stay_21": 10}, 3),
    ("community", "long_stay_21", {"long_stay_21": 11}, 3),
    ("community", "long_stay_21", {"long_stay_21": 14}, 3),
    ("community", "long_stay_21", {"long_stay_21": 15}, 4),
    ("community", "long_stay_21", {"long_stay_21": 16}, 4),
    # Staff absent: 2 from 50, 3 from 100, 4 from 150.
    ("community", "staff_absent", {"staff_absent": 49}, 1),
    ("community", "staff_absent", {"staff_absent": 50}, 2),
    ("community", "staff_absent", {"staff_absent": 51}, 2),
    ("community", "staff_absent", {"staff_absent": 99}, 2),
    ("community", "staff_absent", {"staff_absent": 100}, 3),
    ("community", "staff_absent", {"staff_absent": 101}, 3),
    ("community", "staff_absent", {"staff_absent": 149}, 3),
    ("community", "staff_absent", {"staff_absent": 150}, 4),
    ("community", "staff_absent", {"staff_absent": 151}, 4),
    # Escalation beds open: 2 from 1, 3 from 5, 4 from 10.
    ("community", "escalation_open", {"escalation_open": 0}, 1),
    ("community", "escalation_open", {"escalation_open": 1}, 2),
    ("community", "escalation_open", {"escalation_open": 2}, 2),
    ("community", "escalation_open", {"escalation_open": 4}, 2),
    ("community", "escalation_open", {"escalation_open": 5}, 3),
    ("community", "escalation_open", {"escalation_open": 6}, 3),
    ("community", "escalation_open", {"escalation_open": 9}, 3),
    ("community", "escalation_open", {"escalation_open": 10}, 4),
    ("community", "escalation_open", {"escalation_open": 11}, 4),
]


def _id(case: tuple) -> str:
    profile, parameter, figures, _ = case
    return f"{profile}-{parameter}-{'-'.join(str(v) for v in figures.values())}"


@pytest.mark.parametrize(
    ("profile", "parameter", "figures", "expected"), CASES, ids=[_id(c) for c in CASES]
)
def test_a_parameter_scores_as_worked_by_hand_either_side_of_each_threshold(
    profile, parameter, figures, expected
):
    result = score(shipped()[profile], figures)
    scored = {p.code: p for p in result.parameters}[parameter]
    assert scored.score == expected


def test_the_table_covers_every_threshold_of_every_shipped_parameter_below_at_and_above():
    # Nine rows a parameter (below, at and above each of three thresholds), none forgotten.
    covered = {(profile, parameter) for profile, parameter, _, _ in CASES}
    every = {(p.code, q.code) for p in shipped().values() for q in p.parameters}
    assert covered == every
    for key in every:
        assert sum((c[0], c[1]) == key for c in CASES) == 9


def test_each_score_in_the_table_changes_exactly_at_a_threshold():
    # Read in order, each parameter's nine rows go 1,2,2 / 2,3,3 / 3,4,4: the row at a
    # threshold already has the higher score and the row just below does not.
    by_parameter: dict[tuple[str, str], list[int]] = {}
    for profile, parameter, _, expected in CASES:
        by_parameter.setdefault((profile, parameter), []).append(expected)
    for scores in by_parameter.values():
        assert scores == [1, 2, 2, 2, 3, 3, 3, 4, 4]
