//! The Lua scripts of leases: grant, renew, release (optionally reading
//! keys on grant and writing them on release, in the same script), and the
//! deferred wake-up.
//!
//! Waiters: a failed acquisition that will wait enters the resource's
//! queue — zset `...:q` (member `CLIENT|OWNER` → last attempt + 1 s, so
//! dead waiters age out) and zset `...:s` (member → first attempt, so the
//! longest waiter is known). Wake-ups go to the private pub/sub channel
//! `shoal:wake:CLIENT` of the waiter.
//!
//! Who gets a freed lock or permit, and why:
//!
//! ```text
//!  release of a lock or permit, waiters queued
//!    ├─ longest waiter waited ≥ a slice, and the last hand-off is
//!    │  ≥ a slice old ─▶ hand-off: the lease stays taken, reserved for
//!    │     that waiter for RESERVE ms (`~MEMBER`); it is woken and takes
//!    │     it over; nobody else can
//!    └─ otherwise ─▶ freed, reply "pending": the releasing client sends
//!                    NUDGE (wake if still free) unless it takes the lock
//!                    back first, in which case its next release decides
//!  release of a rwlock hold ─▶ PUBLISH to every waiting client (readers
//!                               may all proceed)
//! ```
//!
//! A holder that releases and relocks in a loop (a hot lock) keeps it
//! without waking anyone — a woken waiter would race it for the lock and
//! usually lose, at the cost of a wasted attempt and a process switch per
//! cycle (measured: 8 contending processes ran at a third of one
//! process's rate, with a PUBLISH and a failed attempt per cycle). Waiters
//! get the lock by hand-off instead: a waiter that merely raced the holder
//! again lost nearly every race on a loaded machine (waits of 400 ms
//! measured). At most one hand-off per slice gives every holder a slice
//! of the lock, so hand-offs — each of which waits for a sleeping process
//! to be scheduled — stay off most cycles (measured under load: one
//! PUBLISH per 20 cycles instead of one every other cycle, 3.2 scripts per
//! cycle instead of 4.5), and a waiter behind N others gets the lock
//! within about (N + 1) slices.
//!
//! The slice follows what hand-offs cost: each claim records how long the
//! lock sat reserved between the hand-off and the waiter taking it over
//! (a moving average in `...:h`), and the slice is ten times that, from
//! 2 to 20 ms (10 ms until a claim has been measured) — so hand-offs take
//! about a tenth of the lock's time whatever the machine. On an idle
//! machine a woken process runs within a fraction of a millisecond and
//! waiters get the lock every 2 ms; on a loaded one, where waking a process
//! takes milliseconds, a fixed 2 ms slice left the lock idle most of the
//! time (measured with 8 processes at load 16: a third of the cycles of a
//! 10 ms slice, and no better p99). A waiter that leaves a hand-off
//! unclaimed (`...:h` still names it at the next one) is presumed gone and
//! dropped, so a crashed waiter costs the lock at most RESERVE ms once.

use std::sync::LazyLock;

use redis::Script;

use super::scripts::{script, CLOCK, KV, TOKENS};

/// The waiter queue (needs [`CLOCK`]).
const QUEUE: &str = r#"
local WINDOW = 1000
local RESERVE = 100
-- The slice (ms) a holder keeps before a hand-off, from what the last
-- hand-offs cost (h 'c', µs: from the hand-off until the waiter claimed
-- it, the time the lock sat reserved and idle): SLICE_COST times that, so
-- hand-offs cost about a tenth of the lock's time, between SLICE_MIN and
-- SLICE_MAX; SLICE_NEW until a claim has been measured.
local SLICE_MIN = 2
local SLICE_MAX = 20
local SLICE_NEW = 10
local SLICE_COST = 10
local function slice(cost_us)
  if not cost_us then return SLICE_NEW end
  return math.min(SLICE_MAX, math.max(SLICE_MIN, SLICE_COST * tonumber(cost_us) / 1000))
end
local function enqueue(q, s, member)
  if member == '' then return end
  local now = now_ms()
  redis.call('ZADD', q, now + WINDOW, member)
  redis.call('ZADD', s, 'NX', now, member)
  redis.call('PEXPIRE', q, 2 * WINDOW)
  redis.call('PEXPIRE', s, 2 * WINDOW)
end
-- Takes a granted waiter out of the queue; if it claims a hand-off,
-- settles it and folds what it cost into h 'c' (a moving average).
local function dequeue(q, s, h, member)
  redis.call('ZREM', q, member)
  redis.call('ZREM', s, member)
  local handed = redis.call('HMGET', h, 'm', 'u', 'c')
  if handed[1] ~= member then return end
  redis.call('HDEL', h, 'm')
  if handed[2] then
    local cost = math.max(0, now_us() - tonumber(handed[2]))
    local avg = cost
    if handed[3] then avg = (3 * tonumber(handed[3]) + cost) / 4 end
    redis.call('HSET', h, 'c', string.format('%.0f', avg))
  end
end
-- Drops waiters that stopped attempting; returns the live ones, longest
-- waiting first, as {member, since, member, since, ...}: the first only
-- (last = 0) or all (last = -1).
local function waiters(q, s, last)
  if redis.call('EXISTS', s) == 0 then return {} end
  local now = now_ms()
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', now)) do
    redis.call('ZREM', s, dead)
  end
  redis.call('ZREMRANGEBYSCORE', q, '-inf', now)
  -- A member of s without a live entry in q (the two expired apart) is
  -- dead too; a few checks bound the work.
  for _ = 1, 8 do
    local list = redis.call('ZRANGE', s, 0, last, 'WITHSCORES')
    if #list == 0 or redis.call('ZSCORE', q, list[1]) then return list end
    redis.call('ZREM', s, list[1])
  end
  return {}
end
local function publish(member, payload)
  local client = string.match(member, '^[^|]+')
  if client then redis.call('PUBLISH', 'shoal:wake:' .. client, payload) end
end
-- The waiter to hand the lease to now, if any: the longest waiter, once
-- it has waited a slice — but at most one hand-off per slice, so each
-- holder keeps the lease that long before the next hand-off (the
-- hand-off record h: 't' its time in ms and 'u' in µs, 'm' its waiter
-- until claimed, 'c' the claim cost). A waiter that left its hand-off
-- unclaimed is presumed gone and dropped.
local function starving(q, s, h)
  local last = redis.call('HMGET', h, 'm', 't', 'c')
  local bound = slice(last[3])
  if last[2] and now_ms() - tonumber(last[2]) < bound then return nil end
  for _ = 1, 4 do
    local head = waiters(q, s, 0)
    if #head == 0 or now_ms() - tonumber(head[2]) < bound then return nil end
    if last[1] ~= head[1] then return head[1] end
    dequeue(q, s, h, head[1])
    last[1] = false
  end
  return nil
end
-- Records a hand-off to member and wakes it.
local function hand_off(h, member, payload)
  redis.call('HSET', h, 'm', member, 't', now_ms(), 'u', string.format('%.0f', now_us()))
  redis.call('PEXPIRE', h, 2 * WINDOW)
  publish(member, payload)
end
-- After a release that handed nothing off: wakes the waiter(s) now, or
-- returns 1 when the releasing client should wake the longest one unless
-- it relocks first.
local function wake(q, s, payload, all)
  if all == '1' then
    local seen = {}
    local list = waiters(q, s, -1)
    for i = 1, #list, 2 do
      local client = string.match(list[i], '^[^|]+')
      if client and not seen[client] then
        seen[client] = true
        publish(list[i], payload)
      end
    end
    return 0
  end
  if #waiters(q, s, 0) == 0 then return 0 end
  return 1
end
"#;

/// Appends `{value, version}` of each of `KEYS[k0..]` to `reply`.
const READS: &str = r#"
local function read_keys(k0, reply)
  for i = k0, #KEYS do
    local vn = redis.call('HMGET', KEYS[i], 'v', 'n')
    reply[#reply + 1] = vn[1]
    reply[#reply + 1] = vn[2]
  end
  return reply
end
"#;

/// Mutex grant. KEYS: owner, token, queue, queue order, hand-off, then
/// keys to read on grant. ARGV: owner id, ttl ms, waiter member ('' = will
/// not wait), '1' if it was queued by an earlier attempt. A lock held as
/// `~MEMBER` is reserved for that waiter, which takes it over. Returns {1,
/// token, value1, version1, ...} or {0, pttl of the holder}.
pub(crate) static MUTEX_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, TOKENS, QUEUE, READS],
        r#"
local granted = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if not granted and ARGV[3] ~= '' and redis.call('GET', KEYS[1]) == '~' .. ARGV[3] then
  granted = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if granted then
  if ARGV[4] == '1' then dequeue(KEYS[3], KEYS[4], KEYS[5], ARGV[3]) end
  return read_keys(6, {1, next_token(KEYS[2])})
end
enqueue(KEYS[3], KEYS[4], ARGV[3])
return {0, redis.call('PTTL', KEYS[1])}
"#,
    )
});

/// Semaphore permit. KEYS: holders zset (owner → expiry ms), token, queue,
/// queue order, hand-off, then keys to read on grant. ARGV: owner id, ttl
/// ms, permits, waiter member, '1' if queued before. A holder `~MEMBER`
/// is a permit reserved for that waiter, which takes it over. Returns {1,
/// token, value1, version1, ...} or {0, ms until the first permit expires}.
pub(crate) static SEM_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, TOKENS, QUEUE, READS],
        r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local reserved = ARGV[4] ~= '' and redis.call('ZREM', KEYS[1], '~' .. ARGV[4]) == 1
if reserved or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  if ARGV[5] == '1' then dequeue(KEYS[3], KEYS[4], KEYS[5], ARGV[4]) end
  return read_keys(6, {1, next_token(KEYS[2])})
end
enqueue(KEYS[3], KEYS[4], ARGV[4])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(first[2]) - now}
"#,
    )
});

/// Read or write hold of a rwlock. KEYS: writer, readers zset, token,
/// queue, queue order, hand-off, then keys to read on grant. ARGV: owner
/// id, ttl ms, 'r' or 'w', waiter member, '1' if queued before. Returns
/// {1, token, value1, version1, ...} or {0, ms until the blocking hold
/// ends}.
pub(crate) static RW_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, TOKENS, QUEUE, READS],
        r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local writer = redis.call('PTTL', KEYS[1])
if writer ~= -2 then
  enqueue(KEYS[4], KEYS[5], ARGV[4])
  return {0, math.max(writer, 1)}
end
if ARGV[3] == 'r' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
else
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] then
    enqueue(KEYS[4], KEYS[5], ARGV[4])
    return {0, tonumber(last[2]) - now}
  end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[5] == '1' then dequeue(KEYS[4], KEYS[5], KEYS[6], ARGV[4]) end
return read_keys(7, {1, next_token(KEYS[3])})
"#,
    )
});

/// Compare-and-extend of a string-held lease (mutex, rwlock writer).
/// KEYS: owner. ARGV: owner id, ttl ms. Returns 1 if extended.
pub(crate) static OWNER_RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[],
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#,
    )
});

/// Compare-and-extend of a zset-held lease (permit, reader).
/// KEYS: holders zset. ARGV: owner id, ttl ms. Returns 1 if extended.
pub(crate) static MEMBER_RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK],
        r#"
local now = now_ms()
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if exp and tonumber(exp) > now then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return 1
end
return 0
"#,
    )
});

/// Compare-and-delete of a string-held lease (mutex, rwlock writer), with
/// fenced writes applied first when it is still ours. KEYS: owner, queue,
/// queue order, hand-off, then keys to write. ARGV: owner id, wake
/// payload, '1' to wake every waiter (rwlock) or '0' (mutex), fence field
/// ('f:' .. name), token, then per key 'p' or 'd', value, ttl ms. A mutex
/// whose longest waiter has waited a slice is not freed but reserved
/// for that waiter (`~MEMBER`, RESERVE ms), which is woken. Returns {1 if
/// it was ours, 1 if the releasing client should wake a waiter, index of a
/// key that refused the token (then nothing was written) or 0, the newer
/// token it holds or '0'}.
pub(crate) static OWNER_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, KV, QUEUE],
        r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 0, 0, '0'} end
local refused, newest = fenced_writes(5, 6, ARGV[4], ARGV[5])
local head = ARGV[3] == '0' and starving(KEYS[2], KEYS[3], KEYS[4])
if head then
  redis.call('SET', KEYS[1], '~' .. head, 'PX', RESERVE)
  hand_off(KEYS[4], head, ARGV[2])
  return {1, 0, refused, newest or '0'}
end
redis.call('DEL', KEYS[1])
return {1, wake(KEYS[2], KEYS[3], ARGV[2], ARGV[3]), refused, newest or '0'}
"#,
    )
});

/// Compare-and-delete of a zset-held lease (permit, reader); the same keys,
/// arguments and reply as [`OWNER_RELEASE`] ('0': a semaphore, whose freed
/// permit is reserved the same way). An expired hold is removed but was not
/// ours any more: nothing is written.
pub(crate) static MEMBER_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, KV, QUEUE],
        r#"
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp then return {0, 0, 0, '0'} end
local ours = tonumber(exp) > now_ms()
local refused, newest = 0, nil
if ours then refused, newest = fenced_writes(5, 6, ARGV[4], ARGV[5]) end
redis.call('ZREM', KEYS[1], ARGV[1])
local pending = 0
-- Only a live hold frees a permit to reserve.
local head = ours and ARGV[3] == '0' and starving(KEYS[2], KEYS[3], KEYS[4])
if head then
  redis.call('ZADD', KEYS[1], now_ms() + RESERVE, '~' .. head)
  hand_off(KEYS[4], head, ARGV[2])
else
  pending = wake(KEYS[2], KEYS[3], ARGV[2], ARGV[3])
end
if ours then return {1, pending, refused, newest or '0'} end
return {0, pending, 0, '0'}
"#,
    )
});

/// The deferred wake-up after a release that left it to the client: wakes
/// the longest waiter if the lock (or a permit) is still free. KEYS:
/// holder key, queue, queue order. ARGV: wake payload, 'm' for a mutex or
/// the permits of a semaphore. Returns 1 if it woke someone.
pub(crate) static NUDGE: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, QUEUE],
        r#"
if ARGV[2] == 'm' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
end
local head = waiters(KEYS[2], KEYS[3], 0)
if #head == 0 then return 0 end
publish(head[1], ARGV[1])
return 1
"#,
    )
});
