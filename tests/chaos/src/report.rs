//! The tally of a run and the table it prints.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::bank::BankReport;
use crate::checker::Verdict;
use crate::schedule::FaultKind;

/// Everything counted in a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Faults injected, by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// Driver faults due after their job had ended (nothing to hurt).
    pub missed: u64,
    /// Segments (clusters) run.
    pub segments: u64,
    /// Jobs run.
    pub jobs: u64,
    /// Jobs that printed the embedded bytes.
    pub exact: u64,
    /// Clean failures, by explanation.
    pub clean: BTreeMap<String, u64>,
    /// Jobs that printed other bytes.
    pub wrong: u64,
    /// Jobs still running at their deadline.
    pub hangs: u64,
    /// Failures no fault explains.
    pub unexplained: u64,
    /// Jobs whose objects the store kept.
    pub leftovers: u64,
    /// Processes left behind (after a job or at the end).
    pub orphans: u64,
    /// Times the cluster did not recover after the faults were healed
    /// (a worker missing, one exiting on its own, a fault that could not
    /// be healed).
    pub unrecovered: u64,
    /// The bank, summed over segments.
    pub bank: BankReport,
    /// Every failed check, in full (step, faults, symptom, logs).
    pub failures: Vec<String>,
}

impl Tally {
    /// Counts a job's verdict.
    pub fn count(&mut self, verdict: &Verdict) {
        self.jobs += 1;
        match verdict {
            Verdict::Exact => self.exact += 1,
            Verdict::Clean(why) => *self.clean.entry(why.clone()).or_default() += 1,
            Verdict::Wrong(_) => self.wrong += 1,
            Verdict::Hang => self.hangs += 1,
            Verdict::Unexplained(_) => self.unexplained += 1,
        }
    }

    /// Adds a segment's bank report.
    pub fn add_bank(&mut self, bank: BankReport) {
        self.bank.applied += bank.applied;
        self.bank.rejected += bank.rejected;
        self.bank.unknown += bank.unknown;
        self.bank.lost += bank.lost;
        self.bank.audits += bank.audits;
        self.bank.violations.extend(bank.violations);
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
            && self.wrong == 0
            && self.hangs == 0
            && self.unexplained == 0
            && self.leftovers == 0
            && self.orphans == 0
            && self.unrecovered == 0
            && self.bank.violations.is_empty()
    }

    /// The table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let row = |t: &mut String, label: &str, n: u64, note: &str| {
            let _ = writeln!(t, "  {label:<44} {n:>7}{note}");
        };
        let _ = writeln!(t, "faults injected");
        for kind in FaultKind::ALL {
            let n = self.faults.get(&kind).copied().unwrap_or(0);
            row(&mut t, kind.label(), n, "");
        }
        row(&mut t, "total", self.faults.values().sum(), "");
        if self.missed > 0 {
            row(
                &mut t,
                "(driver faults after the job had ended)",
                self.missed,
                "",
            );
        }
        let _ = writeln!(t, "jobs ({} clusters)", self.segments);
        row(&mut t, "jobs run", self.jobs, "");
        row(&mut t, "results exact", self.exact, "");
        let clean: u64 = self.clean.values().sum();
        let why: Vec<String> = self
            .clean
            .iter()
            .map(|(w, n)| format!("{w}: {n}"))
            .collect();
        let note = if why.is_empty() {
            String::new()
        } else {
            format!("   ({})", why.join(", "))
        };
        row(&mut t, "clean failures", clean, &note);
        let must = "   must be 0";
        row(&mut t, "wrong results", self.wrong, must);
        row(&mut t, "hangs", self.hangs, must);
        row(&mut t, "unexplained failures", self.unexplained, must);
        row(
            &mut t,
            "jobs with leftovers in the store",
            self.leftovers,
            must,
        );
        row(&mut t, "orphan processes", self.orphans, must);
        row(
            &mut t,
            "clusters that did not recover",
            self.unrecovered,
            must,
        );
        let b = &self.bank;
        let _ = writeln!(t, "bank");
        row(&mut t, "transfers acknowledged (applied)", b.applied, "");
        row(&mut t, "transfers acknowledged (refused)", b.rejected, "");
        row(&mut t, "transfers unacknowledged (gave up)", b.unknown, "");
        row(
            &mut t,
            "acknowledged, lost whole by a failover",
            b.lost,
            "   allowed behind Sentinels only",
        );
        row(
            &mut t,
            "audits (total preserved, none negative)",
            b.audits,
            "",
        );
        row(&mut t, "violations", b.violations.len() as u64, must);
        t
    }
}
