'use strict';
// The job side of Gauntlet's node warm preambles: warm.js (the node runtime's) and
// warm-hardhat.js (the hardhat runtime's) both load this module, from the protected
// .gauntlet/runner/ folder of the read-only layer, before any job exists.
//
// The protocol (the same as warm.py's; GAUNTLET_JOB_FD=4, fd 4 a connected AF_UNIX
// stream socket to the host; fd 3 may be the results channel, left alone):
//
// 1. Once warm, the preamble calls serveJob(), which writes the byte `R` to fd 4.
// 2. It reads the job from fd 4 until EOF: `GJOB1\n`, a u32 length and that much JSON
//    ({"env": {...}}), then entries `D` (u16 path length, path, u32 mode), `F` (u16
//    path length, path, u32 mode, u64 size, content) and `E` (the end; nothing may
//    follow). Big-endian. Header at most 1 MiB, content at most 256 MiB in all.
// 3. It writes the files into the workspace (the working directory). Node has no
//    openat: every folder on the way is lstat'ed (a symlink or a non-directory is
//    refused; nothing else runs in the jail, so checking then opening is safe), a
//    missing one is made (0o755), and the file is opened with O_NOFOLLOW. A file
//    replaces an existing one (a starter file).
// 4. It hands the header's environment, not yet applied, to the preamble, which runs
//    the test command.
//
// A malformed job (bad magic, truncated, a bad path, a symlink or a non-directory on
// the way, a directory where a file goes, bytes after `E`...) ends the process with
// the one line `gauntlet-warm: bad job: <reason>` on stderr and status 125, the
// command never run. Modes are permission bits only (at most 0o777); a path whose
// first component is `.gauntlet` is refused; a directory whose mode withholds rwx
// from its owner gets that mode after every entry is written; an I/O error while
// writing is reported like a bad job.
//
// Loading it has no side effect and prints nothing.

const fs = require('node:fs');
const path = require('node:path');


const MAGIC = Buffer.from('GJOB1\n', 'latin1');
const MAX_HEADER = 1 << 20;
const MAX_CONTENT = 256 * 1024 * 1024;
const MAX_PATH = 4096;
const PROTECTED = '.gauntlet';
const BAD_JOB_STATUS = 125;
const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_DIRECTORY } =
  fs.constants;

class BadJob extends Error {}

function die(message, status = BAD_JOB_STATUS) {
  try {
    fs.writeSync(2, `${message.replace(/\n/g, '\\n')}\n`);
  } catch {}
  process.exit(status);
}

function show(p) {
  return JSON.stringify(p);
}

// ---------------------------------------------------------------------------
// Commands

function which(name) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const candidate = path.join(dir || '.', name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return null;
}

// Whether CMD names this node: `node` on PATH or a path, the same file as execPath.
function sameNode(cmd) {
  if (path.basename(cmd) !== 'node') return false;
  const found = cmd.includes('/') ? (path.isAbsolute(cmd) ? cmd : null) : which(cmd);
  if (!found) return false;
  try {
    return fs.realpathSync(found) === fs.realpathSync(process.execPath);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// The job

function checkPath(raw) {
  if (raw.length === 0) throw new BadJob('an empty path');
  if (raw.length > MAX_PATH) throw new BadJob(`a path of ${raw.length} bytes (at most ${MAX_PATH})`);
  let p;
  try {
    p = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new BadJob(`a path that is not UTF-8: ${raw.toString('hex')}`);
  }
  if (p.includes('\0')) throw new BadJob(`a path with a NUL byte: ${show(p)}`);
  if (p.startsWith('/')) throw new BadJob(`an absolute path: ${show(p)}`);
  const parts = p.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') {
      throw new BadJob(`a path with an empty, '.' or '..' component: ${show(p)}`);
    }
  }
  if (parts[0] === PROTECTED) throw new BadJob(`a path in the runners' folder: ${show(p)}`);
  return { p, parts };
}

// Opens an existing folder, never through a symlink (its parents were checked).
function openDir(full, shown) {
  try {
    return fs.openSync(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    throw new BadJob(refusal(full, shown, e));
  }
}

function refusal(full, shown, e) {
  try {
    const st = fs.lstatSync(full);
    if (st.isSymbolicLink()) return `${show(shown)} is a symlink`;
    if (!st.isDirectory()) return `${show(shown)} is not a directory`;
  } catch {}
  return `${show(shown)}: ${e.code || e.message}`;
}

// The folder `parts` (under root), never through a symlink, made (0o755) when
// missing. Returns its full path.
function ensureDir(root, parts) {
  let full = root;
  for (let i = 0; i < parts.length; i++) {
    full = path.join(full, parts[i]);
    const shown = parts.slice(0, i + 1).join('/');
    let st = null;
    try {
      st = fs.lstatSync(full);
    } catch (e) {
      if (e.code !== 'ENOENT') throw new BadJob(`${show(shown)}: ${e.code}`);
    }
    if (st === null) {
      try {
        fs.mkdirSync(full, 0o700);
      } catch (e) {
        throw new BadJob(`${show(shown)}: cannot make the directory: ${e.code}`);
      }
      const fd = openDir(full, shown);
      try {
        fs.fchmodSync(fd, 0o755);
      } finally {
        fs.closeSync(fd);
      }
    } else if (st.isSymbolicLink()) {
      throw new BadJob(`${show(shown)} is a symlink`);
    } else if (!st.isDirectory()) {
      throw new BadJob(`${show(shown)} is not a directory`);
    }
  }
  return full;
}

function makeDir(root, parts, mode, deferred) {
  const full = ensureDir(root, parts);
  const fd = openDir(full, parts.join('/'));
  try {
    if ((mode & 0o700) === 0o700) {
      fs.fchmodSync(fd, mode);
    } else {
      // Its owner could not write into it: it gets its mode once the job is in.
      fs.fchmodSync(fd, mode | 0o700);
      deferred.push({ parts, mode });
    }
  } finally {
    fs.closeSync(fd);
  }
}

const FILE_FLAGS = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;

function openFile(root, parts) {
  const dir = ensureDir(root, parts.slice(0, -1));
  const full = path.join(dir, parts[parts.length - 1]);
  const shown = parts.join('/');
  let fd;
  try {
    fd = fs.openSync(full, FILE_FLAGS, 0o600);
  } catch (e) {
    if (e.code === 'EISDIR') throw new BadJob(`${show(shown)} is a directory`);
    try {
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) throw new BadJob(`${show(shown)} is a symlink`);
      if (!st.isFile()) throw new BadJob(`${show(shown)} is not a regular file`);
    } catch (e2) {
      if (e2 instanceof BadJob) throw e2;
    }
    throw new BadJob(`${show(shown)}: ${e.code || e.message}`);
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new BadJob(`${show(shown)} is not a regular file`);
  }
  return fd;
}

function writeAll(fd, buf, shown) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      throw new BadJob(`${show(shown)}: ${e.code || e.message}`);
    }
  }
}

function parseHeader(raw) {
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    throw new BadJob(`the header is not JSON: ${e.message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new BadJob('the header is not a JSON object');
  }
  const env = header.env === undefined ? {} : header.env;
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw new BadJob("the header's env is not an object");
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name || name.includes('=') || name.includes('\0')) {
      throw new BadJob(`the header's env has a bad name: ${show(name)}`);
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new BadJob(`the header's env has a bad value for ${name}`);
    }
  }
  return env;
}

// A push parser: feed() the job's bytes as they come, end() at EOF. Files are written
// as their content arrives, never held whole.
class JobParser {
  constructor(root) {
    this.root = root;
    this.chunks = [];
    this.avail = 0;
    this.state = 'magic';
    this.env = null;
    this.total = 0;
    this.deferred = [];
    this.entry = null;
    this.fd = null;
  }

  take(n) {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.avail -= n;
    return out;
  }

  feed(chunk) {
    this.chunks.push(chunk);
    this.avail += chunk.length;
    this.step();
  }

  // What the parser waits for, for a truncation message.
  waiting() {
    const e = this.entry;
    switch (this.state) {
      case 'magic': return 'the magic';
      case 'hlen': return 'the header length';
      case 'header': return 'the header';
      case 'kind': return 'an entry kind';
      case 'plen': return 'a path length';
      case 'path': return 'a path';
      case 'mode': return `the mode of ${show(e.p)}`;
      case 'size': return `the size of ${show(e.p)}`;
      case 'content': return `the content of ${show(e.p)}`;
      default: return this.state;
    }
  }

  step() {
    for (;;) {
      switch (this.state) {
        case 'magic': {
          const n = Math.min(this.avail, MAGIC.length);
          const head = Buffer.concat(this.chunks).subarray(0, n);
          if (!MAGIC.subarray(0, n).equals(head)) {
            throw new BadJob(`bad magic ${JSON.stringify(head.toString('latin1'))}`);
          }
          if (n < MAGIC.length) return;
          this.take(MAGIC.length);
          this.state = 'hlen';
          break;
        }
        case 'hlen': {
          if (this.avail < 4) return;
          this.hlen = this.take(4).readUInt32BE(0);
          if (this.hlen > MAX_HEADER) {
            throw new BadJob(`a header of ${this.hlen} bytes (at most ${MAX_HEADER})`);
          }
          this.state = 'header';
          break;
        }
        case 'header': {
          if (this.avail < this.hlen) return;
          this.env = parseHeader(this.take(this.hlen));
          this.state = 'kind';
          break;
        }
        case 'kind': {
          if (this.avail < 1) return;
          const kind = String.fromCharCode(this.take(1)[0]);
          if (kind === 'E') {
            this.state = 'end';
            break;
          }
          if (kind !== 'D' && kind !== 'F') {
            throw new BadJob(`unknown entry kind ${JSON.stringify(kind)}`);
          }
          this.entry = { kind };
          this.state = 'plen';
          break;
        }
        case 'plen': {
          if (this.avail < 2) return;
          this.entry.plen = this.take(2).readUInt16BE(0);
          this.state = 'path';
          break;
        }
        case 'path': {
          if (this.avail < this.entry.plen) return;
          Object.assign(this.entry, checkPath(this.take(this.entry.plen)));
          this.state = 'mode';
          break;
        }
        case 'mode': {
          if (this.avail < 4) return;
          const mode = this.take(4).readUInt32BE(0);
          const e = this.entry;
          if (mode & ~0o777) {
            throw new BadJob(`${show(e.p)}: mode 0o${mode.toString(8)} is more than permission bits`);
          }
          e.mode = mode;
          if (e.kind === 'D') {
            makeDir(this.root, e.parts, mode, this.deferred);
            this.state = 'kind';
          } else {
            this.state = 'size';
          }
          break;
        }
        case 'size': {
          if (this.avail < 8) return;
          const size = this.take(8).readBigUInt64BE(0);
          const e = this.entry;
          if (size > BigInt(MAX_CONTENT - this.total)) {
            throw new BadJob(`more than ${MAX_CONTENT} bytes of content`);
          }
          e.left = Number(size);
          this.total += e.left;
          this.fd = openFile(this.root, e.parts);
          this.state = 'content';
          break;
        }
        case 'content': {
          const e = this.entry;
          while (e.left > 0 && this.avail > 0) {
            const c = this.chunks[0];
            const k = Math.min(c.length, e.left);
            writeAll(this.fd, c.subarray(0, k), e.p);
            if (k === c.length) this.chunks.shift();
            else this.chunks[0] = c.subarray(k);
            this.avail -= k;
            e.left -= k;
          }
          if (e.left > 0) return;
          try {
            fs.fchmodSync(this.fd, e.mode);
          } catch (err) {
            throw new BadJob(`${show(e.p)}: ${err.code || err.message}`);
          } finally {
            fs.closeSync(this.fd);
            this.fd = null;
          }
          this.state = 'kind';
          break;
        }
        case 'end': {
          if (this.avail > 0) throw new BadJob('bytes after the end entry');
          return;
        }
        default:
          throw new Error(`unknown state ${this.state}`);
      }
    }
  }

  end() {
    if (this.state !== 'end') throw new BadJob(`truncated: the job ends in ${this.waiting()}`);
    for (const { parts, mode } of this.deferred.reverse()) {
      const fd = openDir(path.join(this.root, ...parts), parts.join('/'));
      try {
        fs.fchmodSync(fd, mode);
      } finally {
        fs.closeSync(fd);
      }
    }
    return this.env;
  }
}

// Reads the job from fd, blocking, and returns the header's environment. A job
// socket in non-blocking mode is read through the event loop instead: then null, and
// done(env) once the job is in.
function receive(fd, done) {
  const parser = new JobParser(process.cwd());
  for (;;) {
    const buf = Buffer.allocUnsafe(1 << 16);
    let n;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') {
        receiveAsync(fd, parser, done);
        return null;
      }
      if (e.code === 'EINTR') continue;
      throw new BadJob(`reading the job: ${e.code || e.message}`);
    }
    if (n === 0) break;
    parser.feed(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  return parser.end();
}

function receiveAsync(fd, parser, done) {
  const net = require('node:net');
  const socket = new net.Socket({ fd, readable: true, writable: false });
  const fail = (e) => {
    socket.destroy();
    if (e instanceof BadJob) die(`gauntlet-warm: bad job: ${e.message}`);
    die(`gauntlet-warm: bad job: reading the job: ${e.code || e.message}`);
  };
  socket.on('data', (chunk) => {
    try {
      parser.feed(chunk);
    } catch (e) {
      fail(e);
    }
  });
  socket.on('error', fail);
  socket.on('end', () => {
    let env;
    try {
      env = parser.end();
    } catch (e) {
      fail(e);
      return;
    }
    socket.destroy(); // closes fd
    done(env);
  });
}

// ---------------------------------------------------------------------------
// Running the command

function resultsFd() {
  const n = Number(process.env.GAUNTLET_RESULTS_FD);
  if (!Number.isInteger(n) || n < 3 || n > 1024) return null;
  try {
    fs.fstatSync(n);
    return n;
  } catch {
    return null;
  }
}

// The command as a child with our stdio (and the results channel at the same
// number), its status passed on: an exit code as is, a signal re-raised on us.
function spawnCommand(cmd) {
  const { spawnSync } = require('node:child_process');
  const os = require('node:os');
  const stdio = ['inherit', 'inherit', 'inherit'];
  const results = resultsFd();
  if (results !== null) {
    while (stdio.length < results) stdio.push('ignore');
    stdio[results] = results;
  }
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio, env: process.env });
  if (r.error) {
    const code = r.error.code;
    die(`gauntlet-warm: ${cmd[0]}: ${code || r.error.message}`, code === 'ENOENT' ? 127 : 126);
  }
  if (r.signal) {
    try {
      process.kill(process.pid, r.signal);
    } catch {}
    // Still here: a signal node ignores (SIGPIPE) or handles. The shell's convention.
    process.exit(128 + (os.constants.signals[r.signal] || 0));
  }
  process.exit(r.status);
}

// ---------------------------------------------------------------------------
// The protocol around the job

// The job socket named by GAUNTLET_JOB_FD, which the command never sees.
function jobFdFromEnv() {
  const raw = process.env.GAUNTLET_JOB_FD || '';
  delete process.env.GAUNTLET_JOB_FD;
  const fd = Number(raw);
  try {
    if (!/^[0-9]{1,9}$/.test(raw)) throw new Error();
    fs.fstatSync(fd);
  } catch {
    die('gauntlet-warm: GAUNTLET_JOB_FD does not name an open descriptor');
  }
  return fd;
}

// Writes R, reads the job, writes its files; then afterJob(env), with the header's
// environment not yet applied. A bad job ends the process here (status 125).
function serveJob(fd, afterJob) {
  try {
    fs.writeSync(fd, 'R');
  } catch (e) {
    die(`gauntlet-warm: cannot signal ready: ${e.code || e.message}`);
  }
  let env;
  try {
    env = receive(fd, afterJob);
  } catch (e) {
    if (e instanceof BadJob) die(`gauntlet-warm: bad job: ${e.message}`);
    die(`gauntlet-warm: bad job: unexpected error: ${e.code || e.message}`);
  }
  if (env !== null) afterJob(env);
}

module.exports = { die, jobFdFromEnv, sameNode, serveJob, spawnCommand };
