-- A test PKI, made at test time by the openssl command in a temporary
-- directory that goes when the Lua state closes. Made once per process
-- (busted runs every spec file in one): EC P-256 keys, so it takes a
-- fraction of a second.
--
--   local pki = require("support.pki").get()
--   ... {cafile = pki.root.cert} ... pki.leaf.cert, pki.leaf.key ...
--
-- Each entry is {cert = PEM path, key = PEM path}:
--   root          the CA the specs trust
--   leaf          from root, for localhost, 127.0.0.1 and ::1
--   expired       from root, the same names, expired yesterday
--   wrongname     from root, for wrong.example only
--   nameonly      from root, for the name localhost only (no IP address)
--   selfsigned    its own issuer, for localhost, 127.0.0.1 and ::1
--   other_root    a CA nobody trusts
--   other_leaf    from other_root, for localhost, 127.0.0.1 and ::1
--   client        a client certificate from root
--   other_client  a client certificate from other_root

local env = require("support.env")
local files = require("support.files")

local pki = {}

-- Every certificate lives 30 days, except the expired one: "-days -1"
-- makes one whose notAfter is a day before its notBefore (now), which
-- OpenSSL reports as expired, as it would a certificate of last year.
local SCRIPT = [[
set -e
cd "$1"
SERVER='basicConstraints=CA:false
extendedKeyUsage=serverAuth
subjectAltName='
CLIENT='basicConstraints=CA:false
extendedKeyUsage=clientAuth'
ALL='DNS:localhost,IP:127.0.0.1,IP:::1'
root() {  # root NAME CN
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" -days 30 \
    -addext basicConstraints=critical,CA:true \
    -addext keyUsage=critical,keyCertSign,cRLSign
}
csr() {   # csr NAME CN
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
}
sign() {  # sign NAME CA DAYS EXTENSIONS
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
    -CAcreateserial -days "$3" -extfile "$1.ext" -out "$1.pem"
}
root root 'sockit test root'
root other_root 'sockit unrelated root'
csr leaf localhost;         sign leaf root 30 "$SERVER$ALL"
csr expired localhost;      sign expired root -1 "$SERVER$ALL"
csr wrongname wrong.example; sign wrongname root 30 "${SERVER}DNS:wrong.example"
csr nameonly localhost;     sign nameonly root 30 "${SERVER}DNS:localhost"
csr other_leaf localhost;   sign other_leaf other_root 30 "$SERVER$ALL"
csr client 'sockit client'; sign client root 30 "$CLIENT"
csr other_client 'stranger'; sign other_client other_root 30 "$CLIENT"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout selfsigned.key -out selfsigned.pem -subj /CN=localhost -days 30 \
  -addext "subjectAltName=$ALL"
]]

local NAMES = {"root", "leaf", "expired", "wrongname", "nameonly",
               "selfsigned", "other_root", "other_leaf", "client",
               "other_client"}

local made

-- openssl is not under test: it runs without the runtimes make asan preloads
local function make()
  local dir = files.mkdtemp("sockit-pki")
  local script = dir .. "/make.sh"
  files.write(script, SCRIPT)
  local p = assert(io.popen(("env -u LD_PRELOAD sh %s %s 2>&1"):format(
    env.quote(script), env.quote(dir))))
  local log = p:read("a")
  local ok = p:close()
  if not ok then
    os.execute("rm -rf " .. env.quote(dir))
    error("making the test PKI failed:\n" .. log)
  end
  local t = {dir = dir}
  for _, name in ipairs(NAMES) do
    t[name] = {cert = dir .. "/" .. name .. ".pem", key = dir .. "/" .. name .. ".key"}
  end
  local function remove() os.execute("rm -rf " .. env.quote(dir)) end
  -- removed when the busted run ends, else with the Lua state that made it
  -- (newproxy: before 5.2 a table's __gc is never called)
  local loaded, busted = pcall(require, "busted")
  if loaded and type(busted) == "table" and busted.subscribe then
    busted.subscribe({"suite", "end"}, function() remove(); return nil, true end)
  end
  local newproxy = rawget(_G, "newproxy")
  if newproxy then
    t.sentinel = newproxy(true)
    getmetatable(t.sentinel).__gc = remove
  else
    t.sentinel = setmetatable({}, {__gc = remove})
  end
  return t
end

-- The PKI of this process, made on first use.
function pki.get()
  made = made or make()
  return made
end

return pki
