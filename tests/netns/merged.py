"""Checks that a distributed run's merged histogram is one histogram of every worker's
samples: the controller's saved run (argv[1]) against the workers' (argv[2:]), each an
HdrHistogram interval log. Sums the untagged (all requests) intervals of each side and
compares them bucket for bucket; prints the count and percentiles on success, exits 1
with the difference otherwise."""
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader


def total(paths):
    out = HdrHistogram(1, 3600 * 1000 * 1000, 3)
    for path in paths:
        reader = HistogramLogReader(path, HdrHistogram(1, 3600 * 1000 * 1000, 3))
        while True:
            h = reader.get_next_interval_histogram()
            if h is None:
                break
            if h.get_tag() is None:
                out.add(h)
    return out


def buckets(h):
    return [(i.value_iterated_to, i.count_at_value_iterated_to) for i in h.get_recorded_iterator()]


merged, workers = total(sys.argv[1:2]), total(sys.argv[2:])
if merged.get_total_count() == 0:
    print("the controller's log has no samples")
    sys.exit(1)
if buckets(merged) != buckets(workers):
    print(
        f"controller {merged.get_total_count()} samples, workers {workers.get_total_count()}; "
        f"p50 {merged.get_value_at_percentile(50)} vs {workers.get_value_at_percentile(50)} us, "
        f"p99 {merged.get_value_at_percentile(99)} vs {workers.get_value_at_percentile(99)} us"
    )
    sys.exit(1)
print(
    f"{workers.get_total_count()} samples of {len(sys.argv) - 2} workers = the controller's histogram, "
    f"p50 {workers.get_value_at_percentile(50)} us, p99 {workers.get_value_at_percentile(99)} us"
)
