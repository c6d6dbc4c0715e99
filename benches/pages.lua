-- wrk: each request a different page of the history, pages 1..PAGES in turn on each thread. With
-- more pages than the server's cache of recent pages holds (256), none is answered from it.
local pages = tonumber(os.getenv("PAGES") or "1000")
local page = 0

request = function()
  page = page % pages + 1
  return wrk.format("GET", wrk.path .. "?page=" .. page)
end
