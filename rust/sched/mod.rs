// SPDX-License-Identifier: GPL-2.0

//! Schedulers: how a service picks a destination for a new connection.
//!
//! A service binds a scheduler by name, as IPVS binds `ip_vs_<name>`; an unknown name is refused
//! with `-ENOENT`, and `"none"` means no scheduler. Each scheduler lives in its own file with the
//! data plane; this registry lists those rvs provides.

#![deny(unsafe_code)]

/// A scheduling algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheduler {
    /// Round robin.
    RoundRobin,
    /// Weighted round robin.
    WeightedRoundRobin,
    /// Least connection.
    LeastConnection,
    /// Weighted least connection (ipvsadm's default).
    WeightedLeastConnection,
}

const ALL: [Scheduler; 4] = [
    Scheduler::RoundRobin,
    Scheduler::WeightedRoundRobin,
    Scheduler::LeastConnection,
    Scheduler::WeightedLeastConnection,
];

impl Scheduler {
    /// The IPVS name of the scheduler.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheduler::RoundRobin => "rr",
            Scheduler::WeightedRoundRobin => "wrr",
            Scheduler::LeastConnection => "lc",
            Scheduler::WeightedLeastConnection => "wlc",
        }
    }

    /// Looks a scheduler up by its IPVS name.
    pub(crate) fn by_name(name: &[u8]) -> Option<Self> {
        ALL.into_iter().find(|s| s.name().as_bytes() == name)
    }
}

/// What a service's scheduler name selects: `Ok(None)` for `"none"`, `Err(())` if unknown.
pub(crate) fn lookup(name: &[u8]) -> Result<Option<Scheduler>, ()> {
    if name == b"none" {
        return Ok(None);
    }
    Scheduler::by_name(name).map(Some).ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ALL {
            assert_eq!(lookup(s.name().as_bytes()), Ok(Some(s)));
        }
        assert_eq!(lookup(b"none"), Ok(None));
        assert_eq!(lookup(b"nosuch"), Err(()));
        assert_eq!(lookup(b""), Err(()));
        assert_eq!(lookup(b"RR"), Err(()));
    }
}
