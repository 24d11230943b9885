//! The Lua scripts of the key-value store, and the helpers every script
//! is built from: each coordination step is one script, so it is atomic on
//! the server and costs one round trip. The lease scripts are in
//! [`super::lease_scripts`].
//!
//! Fencing tokens and versions are `max(previous + 1, server time in µs)`:
//! strictly increasing per resource like a counter, and still increasing
//! when Redis has lost the previous value (restart without persistence,
//! failover to a lagging replica) as long as the server clock does not step
//! back.
//!
//! Numbers stay below 2^53, exact in Lua's doubles, and are written
//! with `%.0f` so Rust reads canonical integers back.
//!
//! Each script carries only the helpers it calls: a script's chunk runs
//! whole on every call, and defining unused helpers costs server time on
//! every lock cycle.

use std::sync::LazyLock;

use redis::Script;

/// The server clock, read once per script (`TIME` is a command call).
pub(crate) const CLOCK: &str = r#"
local clock_us
local function now_us()
  if not clock_us then
    local t = redis.call('TIME')
    clock_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return clock_us
end
local function now_ms() return math.floor(now_us() / 1000) end
"#;

/// Fencing tokens (needs [`CLOCK`]).
pub(crate) const TOKENS: &str = r#"
local function next_token(key)
  local prev = tonumber(redis.call('GET', key) or '0')
  local tok = math.max(prev + 1, now_us())
  redis.call('SET', key, string.format('%.0f', tok))
  return tok
end
"#;

/// Versioned writes and fences of key-value hashes (needs [`CLOCK`]).
pub(crate) const KV: &str = r#"
local function kv_write(key, value, ttl)
  local prev = tonumber(redis.call('HGET', key, 'n') or '0')
  local ver = math.max(prev + 1, now_us())
  redis.call('HSET', key, 'v', value, 'n', string.format('%.0f', ver))
  if ttl ~= '0' then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
  return ver
end
-- Exact comparison of canonical decimal strings (tokens may exceed 2^53).
local function dec_less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
-- Writes KEYS[k0..] from ARGV triples at a0 ('p' or 'd', value, ttl ms) as
-- the holder of token under fence field (like put_fenced). If a key
-- already accepted a newer token for that field, nothing is written and
-- its 1-based index and that token are returned; else 0.
local function fenced_writes(k0, a0, field, token)
  for i = k0, #KEYS do
    local newest = redis.call('HGET', KEYS[i], field)
    if newest and dec_less(token, newest) then return i - k0 + 1, newest end
  end
  local a = a0
  for i = k0, #KEYS do
    if ARGV[a] == 'd' then
      redis.call('HDEL', KEYS[i], 'v', 'n')
    else
      kv_write(KEYS[i], ARGV[a + 1], ARGV[a + 2])
    end
    redis.call('HSET', KEYS[i], field, token)
    a = a + 3
  end
  return 0
end
"#;

/// A script made of `helpers` followed by `body`.
pub(crate) fn script(helpers: &[&str], body: &str) -> Script {
    Script::new(&format!("{}\n{body}", helpers.concat()))
}

/// Versioned write. KEYS: kv hash. ARGV: value, ttl ms ('0' = none).
/// Returns the new version.
pub(crate) static KV_PUT: LazyLock<Script> =
    LazyLock::new(|| script(&[CLOCK, KV], "return kv_write(KEYS[1], ARGV[1], ARGV[2])"));

/// Compare-and-set. KEYS: kv hash. ARGV: expected version ('0' = absent),
/// 'p' or 'd', value, ttl ms. Returns {1, new version (0 for delete)} or
/// {0, current version}.
pub(crate) static KV_CAS: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, KV],
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
        &[CLOCK, KV],
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
/// 'd', value, ttl ms. Returns {0}, or — nothing written — the 1-based
/// index of the first read key whose version changed followed by value and
/// version of every read key now (so a retry starts from a consistent
/// snapshot without reading again).
pub(crate) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        &[CLOCK, KV],
        r#"
local nr = tonumber(ARGV[1])
for i = 1, nr do
  local cur = redis.call('HGET', KEYS[i], 'n') or '0'
  if cur ~= ARGV[1 + i] then
    local reply = {i}
    for j = 1, nr do
      local vn = redis.call('HMGET', KEYS[j], 'v', 'n')
      reply[#reply + 1] = vn[1]
      reply[#reply + 1] = vn[2]
    end
    return reply
  end
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
return {0}
"#,
    )
});
