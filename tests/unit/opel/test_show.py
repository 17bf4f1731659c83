"""How a parameter's value reads on a page."""

from flotilla.opel import shipped


def test_a_count_of_one_reads_singular_and_others_plural():
    handovers = shipped()["acute"].parameter("handover_over_60")
    assert handovers.show(1) == "1 handover"
    assert handovers.show(6) == "6 handovers"
    assert handovers.show(0) == "0 handovers"


def test_a_ratio_reads_as_a_percentage_and_its_threshold_as_written():
    occupancy = shipped()["acute"].parameter("ga_occupancy")
    assert occupancy.show(0.961) == "96.1%"
    assert occupancy.show_threshold(0.95) == "95%"
