-- Ends a lease. ARGV: prefix, id, mode: 'end' (its viewer left: one of
-- several requests sharing a movie lease only gives up its share) or 'cut'
-- (a person ended it: all of it, announced on PREFIX.."ended" so the node
-- serving it stops at once). Answers the ended lease's row, or nil.
local id, mode = ARGV[2], ARGV[3]
local flat = redis.call('HGETALL', lease_key(id))
if #flat == 0 then return false end
local t = fields(flat)
if mode == 'end' and tonumber(t.share or '0') > 0 then
  redis.call('HINCRBY', lease_key(id), 'share', -1)
  return false
end
remove(id, t.line)
if mode == 'cut' then redis.call('PUBLISH', P .. 'ended', id) end
return row({id = id, flat = flat})
