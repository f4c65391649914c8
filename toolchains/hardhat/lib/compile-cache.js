// Content-addressed cache of solc outputs, shared by every run that can see the
// same directory. Key: sha256 over the compiler's long version and the complete
// standard-JSON input (sources, settings, remappings), so two runs share an entry
// only when solc would be handed byte-identical work. Value: solc's JSON output.
//
// The cache is an optimisation, never a source of truth: any entry that cannot be
// read or parsed is ignored and overwritten, and a directory that cannot be written
// only costs the speed-up. Writes go through a temporary file and a rename, so
// concurrent runs sharing the directory never see a half-written entry.

"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

// Larger outputs are not stored (a pathological submission should not fill the
// cache); a typical exercise output is 50-300 KiB.
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
const KEY_FORMAT = "gauntlet-solc-cache-v1";

function cacheKey(longVersion, input) {
  return crypto
    .createHash("sha256")
    .update(KEY_FORMAT)
    .update("\0")
    .update(longVersion)
    .update("\0")
    .update(JSON.stringify(input))
    .digest("hex");
}

function entryPath(dir, key) {
  return path.join(dir, key.slice(0, 2), `${key}.json`);
}

function isUsableDir(dir) {
  if (!dir) return false;
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function read(dir, key) {
  let text;
  try {
    text = fs.readFileSync(entryPath(dir, key), "utf8");
  } catch {
    return undefined;
  }
  try {
    const output = JSON.parse(text);
    if (output === null || typeof output !== "object" || Array.isArray(output)) {
      return undefined;
    }
    return output;
  } catch {
    return undefined;
  }
}

function write(dir, key, output) {
  const text = JSON.stringify(output);
  if (Buffer.byteLength(text) > MAX_ENTRY_BYTES) return false;
  const file = entryPath(dir, key);
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(tmp, text, { mode: 0o644, flag: "wx" });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    return false;
  }
}

module.exports = { cacheKey, isUsableDir, read, write };
