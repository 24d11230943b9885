//! The Lua scripts: each coordination step is one script, so it is atomic
//! on the server and costs one round trip.
//!
//! Fencing tokens and versions are `max(previous + 1, server time in µs)`:
//! strictly increasing per resource like a counter, and still increasing
//! when Redis has lost the previous value (restart without persistence,
//! failover to a lagging replica) as long as the server clock does not step
//! back.
//!
//! Wake-ups: a failed acquisition that will wait registers in the
//! resource's waiter queue (zset `...:q`, member `CLIENT|OWNER`, score =
//! last attempt + 1 s so dead waiters age out). A release publishes on the
//! private channel `shoal:wake:CLIENT` of the longest-idle live waiter
//! (locks, permits: one slot freed, one waiter woken — no thundering herd)
//! or of every waiter (rwlocks: many readers may proceed).
//!
//! Numbers stay below 2^53, exact in Lua's doubles, and are written
//! with `%.0f` so Rust reads canonical integers back.

use std::sync::LazyLock;

use redis::Script;

/// Helpers prepended to every script.
const PRELUDE: &str = r#"
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function now_ms() return math.floor(now_us() / 1000) end
local function next_token(key)
  local prev = tonumber(redis.call('GET', key) or '0')
  local tok = math.max(prev + 1, now_us())
  redis.call('SET', key, string.format('%.0f', tok))
  return tok
end
local function next_version(key)
  local prev = tonumber(redis.call('HGET', key, 'n') or '0')
  return math.max(prev + 1, now_us())
end
local function kv_write(key, value, ttl)
  local ver = next_version(key)
  redis.call('HSET', key, 'v', value, 'n', string.format('%.0f', ver))
  if ttl ~= '0' then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
  return ver
end
local function keep_alive(key, ttl)
  if redis.call('PTTL', key) < tonumber(ttl) then redis.call('PEXPIRE', key, ttl) end
end
local WINDOW = 1000
local function enqueue(q, member)
  if member ~= '' then
    redis.call('ZADD', q, now_ms() + WINDOW, member)
    keep_alive(q, 2 * WINDOW)
  end
end
local function dequeue(q, member)
  if member ~= '' then redis.call('ZREM', q, member) end
end
local function wake(q, payload, all)
  redis.call('ZREMRANGEBYSCORE', q, '-inf', now_ms())
  local last = 0
  if all == '1' then last = -1 end
  local seen = {}
  for _, w in ipairs(redis.call('ZRANGE', q, 0, last)) do
    local client = string.match(w, '^[^|]+')
    if client and not seen[client] then
      seen[client] = true
      redis.call('PUBLISH', 'shoal:wake:' .. client, payload)
    end
  end
end
-- Exact comparison of canonical decimal strings (tokens may exceed 2^53).
local function dec_less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// Mutex grant. KEYS: owner, token, waiter queue. ARGV: owner id, ttl
/// ms, waiter member ('' = will not wait). Returns {1, token} or {0, pttl
/// of the holder}.
pub(crate) static MUTEX_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  dequeue(KEYS[3], ARGV[3])
  return {1, next_token(KEYS[2])}
end
enqueue(KEYS[3], ARGV[3])
return {0, redis.call('PTTL', KEYS[1])}
"#,
    )
});

/// Compare-and-extend of a string-held lease (mutex, rwlock writer).
/// KEYS: owner. ARGV: owner id, ttl ms. Returns 1 if extended.
pub(crate) static OWNER_RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#,
    )
});

/// Compare-and-delete of a string-held lease, then wake waiters.
/// KEYS: owner, waiter queue. ARGV: owner id, wake payload, '1' to wake
/// every waiter. Returns 1 if it was ours.
pub(crate) static OWNER_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  wake(KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"#,
    )
});

/// Semaphore permit. KEYS: holders zset (owner → expiry ms), token,
/// waiter queue. ARGV: owner id, ttl ms, permits, waiter member. Returns {1, token} or {0, ms until
/// the first permit expires}.
pub(crate) static SEM_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  keep_alive(KEYS[1], ARGV[2])
  dequeue(KEYS[3], ARGV[4])
  return {1, next_token(KEYS[2])}
end
enqueue(KEYS[3], ARGV[4])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(first[2]) - now}
"#,
    )
});

/// Compare-and-extend of a zset-held lease (permit, reader).
/// KEYS: holders zset. ARGV: owner id, ttl ms. Returns 1 if extended.
pub(crate) static MEMBER_RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if exp and tonumber(exp) > now then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  keep_alive(KEYS[1], ARGV[2])
  return 1
end
return 0
"#,
    )
});

/// Compare-and-delete of a zset-held lease, then wake waiters.
/// KEYS: holders zset, waiter queue. ARGV: owner id, wake payload, '1' to
/// wake every waiter. Returns 1 if it was ours and unexpired.
pub(crate) static MEMBER_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
wake(KEYS[2], ARGV[2], ARGV[3])
if tonumber(exp) > now_ms() then return 1 end
return 0
"#,
    )
});

/// Read or write hold of a rwlock. KEYS: writer, readers zset, token,
/// waiter queue. ARGV: owner id, ttl ms, 'r' or 'w', waiter member. Returns {1, token} or {0, ms
/// until the blocking hold ends}.
pub(crate) static RW_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local writer = redis.call('PTTL', KEYS[1])
if writer ~= -2 then
  enqueue(KEYS[4], ARGV[4])
  return {0, math.max(writer, 1)}
end
if ARGV[3] == 'r' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
  keep_alive(KEYS[2], ARGV[2])
  dequeue(KEYS[4], ARGV[4])
  return {1, next_token(KEYS[3])}
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  enqueue(KEYS[4], ARGV[4])
  return {0, tonumber(last[2]) - now}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
dequeue(KEYS[4], ARGV[4])
return {1, next_token(KEYS[3])}
"#,
    )
});

/// Versioned write. KEYS: kv hash. ARGV: value, ttl ms ('0' = none).
/// Returns the new version.
pub(crate) static KV_PUT: LazyLock<Script> =
    LazyLock::new(|| script("return kv_write(KEYS[1], ARGV[1], ARGV[2])"));

/// Compare-and-set. KEYS: kv hash. ARGV: expected version ('0' = absent),
/// 'p' or 'd', value, ttl ms. Returns {1, new version (0 for delete)} or
/// {0, current version}.
pub(crate) static KV_CAS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local cur = redis.call('HGET', KEYS[1], 'n') or '0'
if cur ~= ARGV[1] then return {0, tonumber(cur)} end
if ARGV[2] == 'd' then
  redis.call('HDEL', KEYS[1], 'v', 'n')
  return {1, 0}
end
return {1, kv_write(KEYS[1], ARGV[3], ARGV[4])}
"#,
    )
});

/// Fenced write. KEYS: kv hash. ARGV: value, fence field ('f:' .. lock),
/// token. Returns {1, version} or {0, newest accepted token as string}.
pub(crate) static KV_PUT_FENCED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local newest = redis.call('HGET', KEYS[1], ARGV[2])
if newest and dec_less(ARGV[3], newest) then return {0, newest} end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return {1, kv_write(KEYS[1], ARGV[1], '0')}
"#,
    )
});

/// Transaction commit. KEYS: read keys then write keys. ARGV[1]: number
/// of reads; then one expected version per read; then per write: 'p' or
/// 'd', value, ttl ms. Returns 0, or the 1-based index of the first read
/// key whose version changed (then nothing was written).
pub(crate) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local nr = tonumber(ARGV[1])
for i = 1, nr do
  local cur = redis.call('HGET', KEYS[i], 'n') or '0'
  if cur ~= ARGV[1 + i] then return i end
end
local a = 2 + nr
for i = nr + 1, #KEYS do
  if ARGV[a] == 'd' then
    redis.call('HDEL', KEYS[i], 'v', 'n')
  else
    kv_write(KEYS[i], ARGV[a + 1], ARGV[a + 2])
  end
  a = a + 3
end
return 0
"#,
    )
});
