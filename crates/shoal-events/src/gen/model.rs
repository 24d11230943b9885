//! The behaviour model: who is active, when, and what they do.
//!
//! Per file (one RNG stream): its users get event budgets from a Pareto
//! (heavy-tailed, Zipf-like) weight so a few users are very active and
//! most are not. Each user's budget becomes sessions (a third are single
//! events, the rest geometric lengths); inside a session clicks come in
//! bursts of seconds with occasional pauses of minutes (always under 30
//! minutes), between sessions the pause is 31 minutes plus an exponential
//! of hours to days, scaled so heavy users fit in the horizon. The first
//! session starts on a uniform day at a diurnal hour; sessions go forward
//! from there and, if the horizon ends, backward before it — so users
//! return on later days and retention is non-trivial. Nothing happens
//! after the horizon: a user with more sessions than fit in it (with the
//! half-hour breaks between them) has them merged into longer sessions
//! until they fill at most half of it, and one whose sessions still find
//! no room forward or backward has them spread over the whole horizon —
//! heavy users are busy every day, not alone after everyone else left. Within sessions a
//! cart needs a viewed item and a purchase needs a carted one, giving the
//! usual view → cart → purchase drop-off; carts survive into the next
//! session half the time.

use super::rng::Rng;

/// Event kinds, in the order of [`KIND_NAMES`].
pub(crate) const VIEW: u8 = 0;
pub(crate) const CART: u8 = 1;
pub(crate) const PURCHASE: u8 = 2;
pub(crate) const SEARCH: u8 = 3;
/// The text of each kind.
pub(crate) const KIND_NAMES: [&str; 4] = ["view", "cart", "purchase", "search"];
/// `item` of events without one.
pub(crate) const NO_ITEM: u32 = u32::MAX;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;
/// Minimum pause between sessions: above any 30-minute session gap.
const SESSION_BREAK: i64 = 31 * MINUTE;
/// The most of the horizon one user's sessions and breaks may take.
const MAX_FILL: f64 = 0.5;
/// Typical extra pause between sessions of a light user.
const MEAN_PAUSE_MS: f64 = 30.0 * HOUR as f64;
/// Relative weight of each UTC hour for session starts (evenings busy).
const HOUR_WEIGHTS: [u32; 24] = [
    3, 2, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 9, 10, 12, 13, 12, 9, 5,
];

/// One generated row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub(crate) ts: i64,
    /// Generation order: the tie-break that keeps sorting deterministic.
    pub(crate) seq: u32,
    pub(crate) user: u32,
    pub(crate) item: u32,
    pub(crate) kind: u8,
}

/// Shape of the whole data set, shared by every file.
pub(crate) struct World {
    pub(crate) horizon_ms: i64,
    pub(crate) items: u32,
    /// Multiplier scrambling item ranks into ids (coprime with `items`).
    item_mul: u64,
}

impl World {
    pub(crate) fn new(days: u32, items: u32) -> Self {
        let items = items.max(1);
        let item_mul = [7919u64, 7907, 7901, 1]
            .into_iter()
            .find(|m| gcd(*m, u64::from(items)) == 1)
            .unwrap_or(1);
        World {
            horizon_ms: i64::from(days) * DAY,
            items,
            item_mul,
        }
    }

    /// A Zipf-like (s ≈ 1.1) popular item, by inverse CDF of the
    /// continuous approximation, then scrambled so ids don't sort by
    /// popularity.
    fn item(&self, rng: &mut Rng) -> u32 {
        const S: f64 = 1.1;
        let n = f64::from(self.items);
        let top = (n + 1.0).powf(1.0 - S);
        let x = (1.0 + rng.f64() * (top - 1.0)).powf(1.0 / (1.0 - S));
        let rank = (x as u64).saturating_sub(1).min(u64::from(self.items) - 1);
        ((rank * self.item_mul + 17) % u64::from(self.items)) as u32
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Splits `events` among `users` by heavy-tailed weights: every user gets
/// at least one event while there are enough to go round.
pub(crate) fn budgets(rng: &mut Rng, users: usize, events: u64) -> Vec<u64> {
    if users == 0 {
        return Vec::new();
    }
    if events < users as u64 {
        let mut b = vec![0; users];
        b.iter_mut().take(events as usize).for_each(|x| *x = 1);
        return b;
    }
    // Pareto(α = 1.2), capped so one user cannot swallow a small file.
    let weights: Vec<f64> = (0..users)
        .map(|_| rng.f64_open().powf(-1.0 / 1.2).min(2000.0))
        .collect();
    let total: f64 = weights.iter().sum();
    let spare = events - users as u64;
    let mut b: Vec<u64> = weights
        .iter()
        .map(|w| 1 + (spare as f64 * w / total) as u64)
        .collect();
    let given: u64 = b.iter().sum();
    let mut left = events.saturating_sub(given);
    let mut i = 0;
    while left > 0 {
        b[i % users] += 1;
        left -= 1;
        i += 1;
    }
    b
}

/// One session before placement: click offsets from its start.
struct Session {
    offsets: Vec<i64>,
}

impl Session {
    fn duration(&self) -> i64 {
        self.offsets.last().copied().unwrap_or(0)
    }
}

/// Per-user shopping state carried across sessions.
#[derive(Default)]
struct Shopper {
    viewed: Option<u32>,
    cart: Vec<u32>,
}

/// Generates `budget` events for `user`, appending them to `out`. Timing
/// is decided first; contents are filled in chronological order so a
/// purchase never precedes its cart.
pub(crate) fn user_events(
    rng: &mut Rng,
    world: &World,
    user: u32,
    budget: u64,
    seq: &mut u32,
    out: &mut Vec<Row>,
) {
    if budget == 0 {
        return;
    }
    let sessions: Vec<Session> = session_lengths(rng, budget)
        .into_iter()
        .map(|len| Session {
            offsets: clicks(rng, len),
        })
        .collect();
    let sessions = fit(rng, world.horizon_ms, sessions);
    let starts = place(rng, world, &sessions);
    let mut order: Vec<usize> = (0..sessions.len()).collect();
    order.sort_by_key(|&i| starts[i]);
    let mut shopper = Shopper::default();
    for i in order {
        shopper.new_session(rng);
        for &offset in &sessions[i].offsets {
            let (kind, item) = shopper.next(rng, world);
            out.push(Row {
                ts: starts[i] + offset,
                seq: *seq,
                user,
                item,
                kind,
            });
            *seq = seq.wrapping_add(1);
        }
    }
}

/// Time `sessions` take end to end with a break after each.
fn busy_time(sessions: &[Session]) -> i64 {
    sessions.iter().map(|s| s.duration() + SESSION_BREAK).sum()
}

/// Merges neighbouring sessions (joined by one click gap) until they take
/// at most [`MAX_FILL`] of `horizon`; a single session still too long has
/// its clicks squeezed closer. Light users pass through untouched.
fn fit(rng: &mut Rng, horizon: i64, mut sessions: Vec<Session>) -> Vec<Session> {
    let room = (MAX_FILL * horizon as f64) as i64;
    while sessions.len() > 1 && busy_time(&sessions) > room {
        let mut merged = Vec::with_capacity(sessions.len().div_ceil(2));
        let mut pairs = sessions.into_iter();
        while let Some(mut first) = pairs.next() {
            if let Some(second) = pairs.next() {
                let at = first.duration() + click_gap(rng);
                first.offsets.extend(second.offsets.iter().map(|o| at + o));
            }
            merged.push(first);
        }
        sessions = merged;
    }
    if let [only] = sessions.as_mut_slice() {
        let duration = only.duration();
        if duration > room {
            // More clicks than the horizon holds at human pace: faster.
            only.offsets
                .iter_mut()
                .for_each(|o| *o = (*o as i128 * room as i128 / duration as i128) as i64);
        }
    }
    sessions
}

/// Session lengths summing to `budget`: a third single-event (bounces),
/// the rest 2 + geometric(mean 6).
fn session_lengths(rng: &mut Rng, budget: u64) -> Vec<u64> {
    let mut left = budget;
    let mut out = Vec::new();
    while left > 0 {
        let len = if rng.chance(0.35) {
            1
        } else {
            2 + (rng.exp(6.0) as u64)
        };
        let len = len.min(left);
        out.push(len);
        left -= len;
    }
    out
}

/// Click offsets of a session of `len` events: bursts seconds apart,
/// sometimes a pause of minutes.
fn clicks(rng: &mut Rng, len: u64) -> Vec<i64> {
    let mut t = 0i64;
    (0..len)
        .map(|i| {
            if i > 0 {
                t += click_gap(rng);
            }
            t
        })
        .collect()
}

impl Shopper {
    fn new_session(&mut self, rng: &mut Rng) {
        self.viewed = None;
        if !rng.chance(0.5) {
            self.cart.clear();
        }
    }

    /// The next click: purchase needs a carted item, cart a viewed one.
    fn next(&mut self, rng: &mut Rng, world: &World) -> (u8, u32) {
        let r = rng.f64();
        if !self.cart.is_empty() && r < 0.10 {
            let k = rng.below(self.cart.len() as u64) as usize;
            return (PURCHASE, self.cart.swap_remove(k));
        }
        if let (Some(item), true) = (self.viewed, r < 0.20) {
            self.cart.push(item);
            self.viewed = None;
            return (CART, item);
        }
        if r > 0.96 {
            return (SEARCH, NO_ITEM);
        }
        let item = match self.viewed {
            // Re-viewing the same item is common before a decision.
            Some(prev) if rng.chance(0.15) => prev,
            _ => world.item(rng),
        };
        self.viewed = Some(item);
        (VIEW, item)
    }
}

/// Pause between two clicks of a session: under 30 minutes.
fn click_gap(rng: &mut Rng) -> i64 {
    let r = rng.f64();
    if r < 0.6 {
        rng.range(2 * SECOND, 20 * SECOND)
    } else if r < 0.92 {
        rng.log_uniform(20.0 * SECOND as f64, 180.0 * SECOND as f64) as i64
    } else {
        rng.log_uniform(3.0 * MINUTE as f64, 15.0 * MINUTE as f64) as i64
    }
}

/// A diurnal start time on `day`.
fn start_on(rng: &mut Rng, day: i64) -> i64 {
    let total: u32 = HOUR_WEIGHTS.iter().sum();
    let mut pick = rng.below(u64::from(total)) as u32;
    let mut hour = 0i64;
    for (h, w) in HOUR_WEIGHTS.iter().enumerate() {
        if pick < *w {
            hour = h as i64;
            break;
        }
        pick -= w;
    }
    day * DAY + hour * HOUR + rng.range(0, HOUR - 1)
}

/// Start time of each session: the first on a uniform day, later ones
/// forward with pauses scaled to the user's activity, and once the horizon
/// is reached, earlier ones backward from the first. If some fit nowhere
/// (a heavy user), all are spread over the horizon instead.
fn place(rng: &mut Rng, world: &World, sessions: &[Session]) -> Vec<i64> {
    let h = world.horizon_ms;
    let n = sessions.len() as f64;
    let mean_pause =
        (0.5 * h as f64 / n - SESSION_BREAK as f64).clamp(MINUTE as f64, MEAN_PAUSE_MS);
    let days = (h / DAY).max(1);
    let first_day = rng.below(days as u64) as i64;
    // Every click lies inside the horizon: a first session that would run
    // past its end starts earlier.
    let first = start_on(rng, first_day)
        .min(h - 1 - sessions[0].duration())
        .max(0);
    let mut starts = vec![i64::MIN; sessions.len()];
    // Forward from `first` while sessions end inside the horizon.
    let mut t = first;
    let mut forward = 0usize;
    for (i, s) in sessions.iter().enumerate() {
        if t + s.duration() >= h && i > 0 {
            break;
        }
        starts[i] = t;
        forward = i + 1;
        t += s.duration() + SESSION_BREAK + rng.exp(mean_pause) as i64;
    }
    // Backward: the remaining sessions precede the first one.
    let mut earliest = first;
    for (i, s) in sessions.iter().enumerate().skip(forward) {
        let end = earliest - SESSION_BREAK - rng.exp(mean_pause) as i64;
        let start = end - s.duration();
        if start < 0 {
            break;
        }
        starts[i] = start;
        earliest = start;
    }
    if starts.contains(&i64::MIN) {
        return spread(rng, h, sessions);
    }
    starts
}

/// Start times that put `sessions` in order inside `[0, horizon)`: the
/// time they leave free is cut into random pauses, one before each.
fn spread(rng: &mut Rng, horizon: i64, sessions: &[Session]) -> Vec<i64> {
    let free = (horizon - busy_time(sessions)).max(0) as f64;
    // One pause before each session and one after the last.
    let weights: Vec<f64> = (0..=sessions.len()).map(|_| rng.exp(1.0)).collect();
    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut t = 0i64;
    sessions
        .iter()
        .zip(&weights)
        .map(|(s, w)| {
            let start = t + (free * w / total) as i64;
            t = start + s.duration() + SESSION_BREAK;
            start
        })
        .collect()
}
