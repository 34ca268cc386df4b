//! Which user type the next user is, so that the split over types is exact at every
//! count, as Locust's dispatcher keeps it: the fixed counts first (in the scenario's
//! order), then the weighted types interleaved, each next user of the type furthest below
//! its share (weights 5:1 give a user of the second type every sixth). Shares round to the
//! nearest: every type's count is within one of its exact share at every count (9:1 over
//! 98 users is 88.2 and 9.8, so 88 and 10).
//!
//! Users stop newest first, so the users running are always the first N of this one
//! sequence, and the split at N is the same whether the run ramped up or down to it.

/// A user type as the dispatcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub weight: u32,
    /// Exactly this many users of the type, started before any weighted one.
    pub fixed: u32,
}

/// The type of the next user, given how many of each type run now.
pub(crate) fn next_type(shares: &[Share], counts: &[u32]) -> usize {
    // Fixed counts first, in order.
    for (i, s) in shares.iter().enumerate() {
        if s.fixed > 0 && counts[i] < s.fixed {
            return i;
        }
    }
    let weighted: Vec<usize> = (0..shares.len())
        .filter(|&i| shares[i].fixed == 0 && shares[i].weight > 0)
        .collect();
    let Some(&first) = weighted.first() else {
        // Every type is fixed and full: more users go to the first type.
        return 0;
    };
    let total_weight: u64 = weighted.iter().map(|&i| u64::from(shares[i].weight)).sum();
    let next: u64 = weighted.iter().map(|&i| u64::from(counts[i])).sum::<u64>() + 1;
    // The deficit of type i at `next` users: next * w_i / W - count_i, compared without
    // division as next * w_i - count_i * W.
    let deficit = |i: usize| {
        i128::from(next) * i128::from(shares[i].weight)
            - i128::from(counts[i]) * i128::from(total_weight)
    };
    weighted.iter().copied().fold(
        first,
        |best, i| if deficit(i) > deficit(best) { i } else { best },
    )
}

/// The split of `n` users over the types (what the first n of the sequence hold).
pub fn split(shares: &[Share], n: u32) -> Vec<u32> {
    let mut counts = vec![0; shares.len()];
    for _ in 0..n {
        let t = next_type(shares, &counts);
        counts[t] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(weight: u32, fixed: u32) -> Share {
        Share { weight, fixed }
    }

    #[test]
    fn the_issues_example_is_exact() {
        // visitor 9, buyer 1, admin fixed 2: 100 users are 88 visitors, 10 buyers, 2 admins.
        let shares = [s(9, 0), s(1, 0), s(0, 2)];
        assert_eq!(split(&shares, 100), vec![88, 10, 2]);
        assert_eq!(split(&shares, 40), vec![34, 4, 2]);
        assert_eq!(split(&shares, 1), vec![0, 0, 1], "fixed users start first");
        assert_eq!(split(&shares, 2), vec![0, 0, 2]);
    }

    #[test]
    fn weights_five_to_one_give_the_second_type_every_sixth_user() {
        let shares = [s(5, 0), s(1, 0)];
        let mut counts = vec![0, 0];
        let order: Vec<usize> = (0..12)
            .map(|_| {
                let t = next_type(&shares, &counts);
                counts[t] += 1;
                t
            })
            .collect();
        // The second type comes once in every six users (at the 4th, 10th, ...: rounded
        // to the nearest, so 4 users are 3 + 1), and every 6 users are 5 + 1.
        let seconds: Vec<usize> = (0..12).filter(|&i| order[i] == 1).collect();
        assert_eq!(seconds, [3, 9]);
        assert_eq!(split(&shares, 6), vec![5, 1]);
        assert_eq!(split(&shares, 12), vec![10, 2]);
    }

    #[test]
    fn every_prefix_is_within_one_of_its_share() {
        let shares = [s(7, 0), s(2, 0), s(3, 0), s(0, 3), s(1, 0)];
        let total: u32 = 13;
        let mut counts = vec![0u32; shares.len()];
        for n in 1..=500u32 {
            let t = next_type(&shares, &counts);
            counts[t] += 1;
            let weighted = n.saturating_sub(3);
            for (i, sh) in shares.iter().enumerate() {
                if sh.fixed > 0 {
                    assert_eq!(counts[i], n.min(3), "fixed at {n}");
                    continue;
                }
                let ideal = f64::from(weighted) * f64::from(sh.weight) / f64::from(total);
                assert!(
                    (f64::from(counts[i]) - ideal).abs() < 1.0,
                    "type {i} has {} at {n} users, ideal {ideal}",
                    counts[i]
                );
            }
        }
    }
}
