-- An unknown MAC from an address, anywhere: the distinct MACs an address
-- presented within a minute (a set that lives a minute from its first
-- one), and past the limit a block every node learns on PREFIX.."limits".
-- ARGV: prefix, now, ip, mac, MACs allowed per minute, block secs.
-- Answers the end of the block, or 0.
local P, now, ip, mac = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local per_minute, block_secs = tonumber(ARGV[5]), tonumber(ARGV[6])
local block = P .. 'scanblock:' .. ip
local blocked_until = tonumber(redis.call('GET', block) or '0')
if blocked_until > now then return blocked_until end
local seen = P .. 'scan:' .. ip
redis.call('SADD', seen, mac)
if redis.call('TTL', seen) < 0 then redis.call('EXPIRE', seen, 60) end
if redis.call('SCARD', seen) <= per_minute then return 0 end
redis.call('DEL', seen)
local until_ = now + block_secs
redis.call('SET', block, string.format('%d', until_), 'EX', block_secs)
redis.call('PUBLISH', P .. 'limits', table.concat({'s', ip, string.format('%d', until_)}, '|'))
return until_
