//! The endpoint set the users pick from, swappable while a swarm runs: the control task
//! publishes a new set, and each user picks it up before its next request.

use crate::scenario::{Endpoint, Flow, Origin, Wait};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Everything a user sends: the weighted tasks (an endpoint, or a flow's steps in order)
/// and the on_start / on_stop steps, each request with its statistics row.
#[derive(Debug)]
pub struct EndpointSet {
    /// Every request: the endpoints first (in scenario order), then flow steps, then the
    /// on_start and on_stop steps.
    pub endpoints: Vec<Endpoint>,
    /// Statistics row of each request.
    pub rows: Vec<usize>,
    /// Index into `origins` of each request.
    pub origin_of: Vec<usize>,
    pub origins: Vec<Origin>,
    pub wait: Wait,
    /// Each task's requests, in order.
    pub tasks: Vec<Vec<usize>>,
    pub on_start: Vec<usize>,
    pub on_stop: Vec<usize>,
    /// Each request encoded for HTTP/1.1 as it goes out when nothing in it is rendered.
    pub wire: Vec<bytes::Bytes>,
    /// Running sums of the weights, in u64 so no sum of u32 weights can overflow.
    cumulative: Vec<u64>,
}

/// The parts of a plan the users run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Workload {
    pub endpoints: Vec<Endpoint>,
    pub flows: Vec<Flow>,
    pub on_start: Vec<Endpoint>,
    pub on_stop: Vec<Endpoint>,
}

impl Workload {
    /// Every request in `EndpointSet` order.
    pub fn requests(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints
            .iter()
            .chain(self.flows.iter().flat_map(|f| f.steps.iter()))
            .chain(&self.on_start)
            .chain(&self.on_stop)
    }
}

impl EndpointSet {
    /// A set of plain endpoints (no flows or hooks).
    pub fn new(endpoints: Vec<Endpoint>, rows: Vec<usize>, wait: Wait) -> Self {
        let work = Workload {
            endpoints,
            ..Workload::default()
        };
        EndpointSet::from_workload(&work, rows, wait)
    }

    /// `rows` has one entry per request, in `Workload::requests` order.
    pub(crate) fn from_workload(work: &Workload, rows: Vec<usize>, wait: Wait) -> Self {
        let endpoints: Vec<Endpoint> = work.requests().cloned().collect();
        let mut origins: Vec<Origin> = Vec::new();
        let origin_of = endpoints
            .iter()
            .map(|e| match origins.iter().position(|o| *o == e.origin) {
                Some(i) => i,
                None => {
                    origins.push(e.origin.clone());
                    origins.len() - 1
                }
            })
            .collect();
        let mut next = 0..;
        let mut take = |n: usize| -> Vec<usize> { (&mut next).take(n).collect() };
        let mut tasks: Vec<Vec<usize>> = Vec::new();
        let mut weights: Vec<u32> = Vec::new();
        for e in &work.endpoints {
            tasks.push(take(1));
            weights.push(e.weight);
        }
        for f in &work.flows {
            tasks.push(take(f.steps.len()));
            weights.push(f.weight);
        }
        let on_start = take(work.on_start.len());
        let on_stop = take(work.on_stop.len());
        let cumulative = weights
            .iter()
            .scan(0u64, |acc, w| {
                *acc += u64::from(*w);
                Some(*acc)
            })
            .collect();
        EndpointSet {
            wire: endpoints.iter().map(super::http::encode).collect(),
            endpoints,
            rows,
            origin_of,
            origins,
            wait,
            tasks,
            on_start,
            on_stop,
            cumulative,
        }
    }

    /// Total weight; 0 means nothing can be picked.
    pub(crate) fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// A task index chosen in proportion to the weights, or None when all are disabled.
    pub(crate) fn pick(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let total = self.total_weight();
        if total == 0 {
            return None;
        }
        let x = rng.u64(0..total);
        Some(self.cumulative.partition_point(|&c| c <= x))
    }
}

/// The current set plus a generation counter the users poll without locking.
pub(crate) struct SharedEndpoints {
    generation: AtomicU64,
    current: Mutex<Arc<EndpointSet>>,
}

impl SharedEndpoints {
    pub fn new(set: EndpointSet) -> Self {
        SharedEndpoints {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(set)),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current set and its generation.
    pub fn load(&self) -> (u64, Arc<EndpointSet>) {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        (self.generation.load(Ordering::Acquire), Arc::clone(&guard))
    }

    pub fn replace(&self, set: EndpointSet) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(set);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Plan;

    #[test]
    fn picks_in_proportion_to_weights() {
        let src = "host = \"http://127.0.0.1:1\"\n[[endpoints]]\npath = \"/a\"\nweight = 3\n[[endpoints]]\npath = \"/off\"\nweight = 0\n[[endpoints]]\npath = \"/b\"\n";
        let plan = Plan::parse(src, "t.toml").unwrap();
        let set = EndpointSet::new(plan.endpoints, vec![0, 1, 2], Wait::None);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[set.pick(&mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = f64::from(counts[0]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }

    #[test]
    fn weights_near_the_u32_limit_keep_their_proportions() {
        let src = format!(
            "host = \"http://127.0.0.1:1\"\n[[endpoints]]\npath = \"/a\"\nweight = {}\n[[endpoints]]\npath = \"/b\"\nweight = {}\n",
            u32::MAX,
            u32::MAX
        );
        let plan = Plan::parse(&src, "t.toml").unwrap();
        let set = EndpointSet::new(plan.endpoints, vec![0, 1], Wait::None);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = [0u32; 2];
        for _ in 0..40_000 {
            counts[set.pick(&mut rng).unwrap()] += 1;
        }
        let share = f64::from(counts[1]) / 40_000.0;
        assert!((share - 0.5).abs() < 0.01, "{share}");
    }
}
