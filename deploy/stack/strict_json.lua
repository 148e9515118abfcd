-- strict_json.lua: Envoy's check that a JSON request names only fields its message defines.
--
-- The gRPC-JSON transcoder drops unknown JSON keys without a word, so a misspelt field would
-- be served as if absent. This filter runs before the transcoder: for a route of the table
-- FIELDS (generated at `stack up` from the descriptor set by deploy/stack/request_fields.py
-- and prepended to this file, with MAX_BODY_BYTES, REFUSAL_METADATA and VIOLATIONS_KEY), it
-- reads the query string and the JSON body and answers 400 with a google.rpc.Status naming
-- every unknown field (and every path variable or query parameter that is not UTF-8, which
-- the transcoder would pass on to a server that cannot decode it), or 413 when the body is
-- over the limit. Anything it cannot parse it leaves to the transcoder, which refuses
-- malformed JSON itself. docs/edge.md says why.

local byte, find, sub, char, concat = string.byte, string.find, string.sub, string.char, table.concat
local floor = math.floor

-- MAX_DEPTH bounds the nesting this parser follows (the Lua stack, not the protocol).
local MAX_DEPTH = 64
-- MAX_VIOLATIONS bounds how many unknown fields one refusal lists.
local MAX_VIOLATIONS = 20

local SCALAR = {}
local ESCAPES = {
  ['"'] = '"', ["\\"] = "\\", ["/"] = "/",
  b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
}

-- skip is the position of the first non-blank character at or after pos.
local function skip(text, pos)
  local _, last = find(text, "^[ \t\r\n]*", pos)
  return last + 1
end

-- utf8 is code point `code` in UTF-8.
local function utf8(code)
  if code < 0x80 then
    return char(code)
  elseif code < 0x800 then
    return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

-- parse_string reads the string whose opening quote is at pos: its text, and what follows.
local function parse_string(text, pos)
  local parts, i = {}, pos + 1
  while true do
    local at = find(text, '["\\]', i)
    if not at then error("unterminated string") end
    parts[#parts + 1] = sub(text, i, at - 1)
    if byte(text, at) == 34 then return concat(parts), at + 1 end
    local escape = sub(text, at + 1, at + 1)
    if escape == "u" then
      local code = tonumber(sub(text, at + 2, at + 5), 16)
      if not code or not find(sub(text, at + 2, at + 5), "^%x%x%x%x$") then error("bad \\u") end
      i = at + 6
      if code >= 0xD800 and code <= 0xDBFF and sub(text, i, i + 1) == "\\u" then
        local low = tonumber(sub(text, i + 2, i + 5), 16)
        if low and low >= 0xDC00 and low <= 0xDFFF then
          code, i = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00), i + 6
        end
      end
      parts[#parts + 1] = utf8(code)
    else
      local plain = ESCAPES[escape]
      if not plain then error("bad escape") end
      parts[#parts + 1], i = plain, at + 2
    end
  end
end

local parse_value

-- parse_object reads an object as {members = {{key, value}, ...}} in the order sent.
local function parse_object(text, pos, depth)
  local members = {}
  pos = skip(text, pos + 1)
  if byte(text, pos) == 125 then return { members = members }, pos + 1 end
  while true do
    if byte(text, pos) ~= 34 then error("expected a key") end
    local key, value
    key, pos = parse_string(text, pos)
    pos = skip(text, pos)
    if byte(text, pos) ~= 58 then error("expected :") end
    value, pos = parse_value(text, skip(text, pos + 1), depth + 1)
    members[#members + 1] = { key, value }
    pos = skip(text, pos)
    local next_char = byte(text, pos)
    if next_char == 125 then return { members = members }, pos + 1 end
    if next_char ~= 44 then error("expected , or }") end
    pos = skip(text, pos + 1)
  end
end

-- parse_array reads an array as {items = {...}}.
local function parse_array(text, pos, depth)
  local items = {}
  pos = skip(text, pos + 1)
  if byte(text, pos) == 93 then return { items = items }, pos + 1 end
  while true do
    local value
    value, pos = parse_value(text, pos, depth + 1)
    items[#items + 1] = value
    pos = skip(text, pos)
    local next_char = byte(text, pos)
    if next_char == 93 then return { items = items }, pos + 1 end
    if next_char ~= 44 then error("expected , or ]") end
    pos = skip(text, pos + 1)
  end
end

-- parse_value reads any value at pos; strings, numbers, booleans and null are all SCALAR.
parse_value = function(text, pos, depth)
  if depth > MAX_DEPTH then error("nested too deep") end
  local first = byte(text, pos)
  if first == 123 then return parse_object(text, pos, depth) end
  if first == 91 then return parse_array(text, pos, depth) end
  if first == 34 then
    local _, after = parse_string(text, pos)
    return SCALAR, after
  end
  local _, last = find(text, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if last then return SCALAR, last + 1 end
  for _, word in ipairs({ "true", "false", "null" }) do
    if sub(text, pos, pos + #word - 1) == word then return SCALAR, pos + #word end
  end
  error("unexpected character")
end

-- decode parses a whole JSON document, or raises an error.
local function decode(text)
  local value, pos = parse_value(text, skip(text, 1), 0)
  if skip(text, pos) <= #text then error("trailing characters") end
  return value
end

-- UNKNOWN and NOT_UTF8 are the descriptions of the two kinds of violation.
local UNKNOWN = "unknown field"
local NOT_UTF8 = "must be UTF-8"

-- add appends a violation unless `out` already holds MAX_VIOLATIONS.
local function add(out, field, description)
  if #out < MAX_VIOLATIONS then out[#out + 1] = { field, description } end
end

-- valid_utf8 tells whether `text` is well-formed UTF-8 (no overlong forms, no surrogates).
local function valid_utf8(text)
  local i, n = 1, #text
  while i <= n do
    local lead = byte(text, i)
    local size, least
    if lead < 0x80 then
      size, least = 1, 0
    elseif lead >= 0xC2 and lead <= 0xDF then
      size, least = 2, 0x80
    elseif lead >= 0xE0 and lead <= 0xEF then
      size, least = 3, 0x800
    elseif lead >= 0xF0 and lead <= 0xF4 then
      size, least = 4, 0x10000
    else
      return false
    end
    if i + size - 1 > n then return false end
    local code = size == 1 and lead or lead % (2 ^ (7 - size)) -- the lead's payload bits
    for k = 1, size - 1 do
      local continuation = byte(text, i + k)
      if continuation < 0x80 or continuation > 0xBF then return false end
      code = code * 0x40 + (continuation - 0x80)
    end
    if code < least or code > 0x10FFFF or (code >= 0xD800 and code <= 0xDFFF) then
      return false
    end
    i = i + size
  end
  return true
end

-- check appends to `out` the path of every key under `value` that `rule` does not accept.
local function check(value, rule, path, out)
  if not rule.message or value == SCALAR or #out >= MAX_VIOLATIONS then return end
  if value.items then -- a repeated field: each element is the message
    for index, item in ipairs(value.items) do
      check(item, rule, path .. "[" .. (index - 1) .. "]", out)
    end
    return
  end
  local accepted = FIELDS.messages[rule.message]
  for _, member in ipairs(value.members) do
    local key, inner = member[1], member[2]
    local where = path == "" and key or path .. "." .. key
    if rule.map then -- a map's keys are data; its values are the message
      check(inner, { message = rule.message }, where, out)
    elseif accepted[key] then
      check(inner, accepted[key], where, out)
    else
      add(out, where, UNKNOWN)
    end
  end
end

-- unescape decodes a query string's percent-encoding and `+`.
local function unescape(text)
  text = text:gsub("%+", " ")
  return (text:gsub("%%(%x%x)", function(hex) return char(tonumber(hex, 16)) end))
end

-- check_query appends every query parameter that names no field of the request message,
-- or whose value is not UTF-8.
local function check_query(query, request, out)
  for pair in query:gmatch("[^&]+") do
    local raw = pair:match("^[^=]*")
    local name = unescape(raw)
    local message, known = request, true
    for segment in (name .. "."):gmatch("([^.]*)%.") do
      local accepted = message and FIELDS.messages[message]
      local field = accepted and accepted[segment]
      if not field then
        known = false
        break
      end
      message = field.message
    end
    if not valid_utf8(name) then
      add(out, raw, NOT_UTF8)
    elseif not known then
      add(out, name, UNKNOWN)
    elseif not valid_utf8(unescape(pair:match("=(.*)$") or "")) then
      add(out, name, NOT_UTF8)
    end
  end
end

-- check_path appends every path variable whose value is not UTF-8 once decoded.
local function check_path(path, target, out)
  if #target.variables == 0 then return end
  local values = { path:match(target.pattern) }
  for index, field in ipairs(target.variables) do
    if values[index] and not valid_utf8(unescape(values[index])) then add(out, field, NOT_UTF8) end
  end
end

-- printable is a field name as a refusal can quote it: bytes that are not UTF-8 as %XX.
local function printable(field)
  field = sub(field, 1, 200)
  if valid_utf8(field) then return field end
  return (field:gsub("[\128-\255]", function(c) return string.format("%%%02X", byte(c)) end))
end

-- json_string is `text` as a JSON string literal.
local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", byte(c))
  end) .. '"'
end

-- route finds the table's route for a method and path, if any.
local function route(method, path)
  for _, candidate in ipairs(FIELDS.routes) do
    if candidate.method == method and find(path, candidate.pattern) then return candidate end
  end
  return nil
end

-- refuse answers with a google.rpc.Status body that the local reply format passes on as is.
local function refuse(handle, status, body)
  handle:streamInfo():dynamicMetadata():set(REFUSAL_METADATA, "refused", "true")
  handle:respond({ [":status"] = tostring(status), ["content-type"] = "application/json" }, body)
end

-- refuse_violations answers 400 with a BadRequest naming each field and what is wrong.
local function refuse_violations(handle, found)
  local violations, said = {}, {}
  for i, violation in ipairs(found) do
    local field, description = printable(violation[1]), violation[2]
    violations[i] = '{"field":' .. json_string(field) .. ',"description":'
      .. json_string(description) .. ',"reason":""}'
    said[i] = field .. ": " .. description
  end
  local message = concat(said, "; ")
  refuse(handle, 400, '{"code":3,"message":' .. json_string(message) .. ',"details":['
    .. '{"@type":"type.googleapis.com/google.rpc.BadRequest","' .. VIOLATIONS_KEY .. '":['
    .. concat(violations, ",") .. "]}]}")
end

-- refuse_too_large answers 413; the local reply format words it like Envoy's own 413s.
local function refuse_too_large(handle)
  handle:respond({ [":status"] = "413" }, "")
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local content_type = headers:get("content-type") or ""
  if find(content_type, "^application/grpc") then return end -- native gRPC: protobuf, not JSON
  local path = headers:get(":path"):match("^[^?#]*")
  local target = route(headers:get(":method"), path)
  if not target then return end
  -- Marks the request as JSON for the local reply format (413 and 429 as Status JSON).
  handle:streamInfo():dynamicMetadata():set(REFUSAL_METADATA, "json", "true")
  local unknown = {}
  check_path(path, target, unknown)
  local query = headers:get(":path"):match("%?([^#]*)")
  if query then check_query(query, target.request, unknown) end
  if target.body then
    local declared = tonumber(headers:get("content-length") or "")
    if declared and declared > MAX_BODY_BYTES then return refuse_too_large(handle) end
    local body = handle:body()
    local size = body and body:length() or 0
    if size > MAX_BODY_BYTES then return refuse_too_large(handle) end
    if size > 0 then
      local parsed, value = pcall(decode, body:getBytes(0, size))
      if parsed then check(value, target.body, "", unknown) end
    end
  end
  if #unknown > 0 then refuse_violations(handle, unknown) end
end
