-- GCRA (generic cell rate algorithm): one key per limited key, holding the theoretical arrival
-- time (TAT) as "<server time in whole microseconds> <TAT - that time, in microseconds>": the
-- debt is small and keeps the interval's fraction. (The server's time, ~1.8e15 us, is a double
-- with a quarter-microsecond step: a TAT stored whole lost up to half a microsecond per
-- admission, the same way each time, and admitted up to 1 % more than the rate at ~20,000/s.)
-- A bucket of `burst` permits refilled one per `interval`.
-- KEYS[1] the key's TAT
-- ARGV[1] emission interval in microseconds (1e6 / permits per second; may be fractional)
-- ARGV[2] burst (permits admissible at once)
-- ARGV[3] permits wanted (1 <= permits <= burst; checked by the client too)
-- ARGV[4] longest wait in microseconds the caller accepts (0 = now or never); a grant within
--         it reserves the slot (the TAT moves) and says how long to wait
-- returns {1, wait us (0 = now), permits left}   admitted (after the wait)
--         {0, retry after us, permits left}        refused: would need to wait longer
--         {-2, 0, 0}                              permits > burst: can never be admitted
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])   -- whole microseconds: exact in a double
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
if want > burst or want < 1 then
  return {-2, 0, 0}
end
-- debt: TAT - now (0 when the bucket is full); the difference of two whole times is exact
local debt = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local at, d = string.match(stored, '^(%d+) (%S+)$')
  if at then
    debt = tonumber(d) - (now - tonumber(at))
  else
    debt = (tonumber(stored) or now) - now     -- a TAT written whole by an earlier version
  end
  if debt < 0 then
    debt = 0
  end
end
local new_debt = debt + want * interval
local wait = new_debt - burst * interval
if wait > max_wait then
  local left = math.floor((burst * interval - debt) / interval)
  return {0, math.ceil(wait), left}
end
redis.call('SET', KEYS[1], string.format('%.0f %.17g', now, new_debt), 'PX', math.ceil(new_debt / 1000) + 1)
if wait < 0 then
  wait = 0
end
local left = math.floor((burst * interval - new_debt) / interval)
if left < 0 then
  left = 0
end
return {1, math.ceil(wait), left}
