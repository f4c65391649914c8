#!/usr/bin/python3
"""Runs a corpus of real programs inside `gauntlet sandbox run` and outside it, and
reports every program that works outside but not inside: what the seccomp
allow-list, the socket families, the masks and the mounts cost real software.

    bench/sandbox/corpus.py [--gauntlet target/release/gauntlet] [--only python,node,tools]

Corpora (each item is one sandbox run):
  python  CPython's own test modules (Debian: libpython3.11-testsuite), through
          `python3 -m test -u none` (no network, no GUI, no audio)
  node    scripts over Node's builtin modules: load every one, then exercise files,
          processes, threads, crypto, zlib, loopback HTTP and DNS, WebAssembly
  tools   coreutils, gawk, sed, grep, find, tar, sort... as graders use them
Prints one line per failure and a count per corpus; exits 1 when a program works
outside and fails inside.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

PY = "/usr/bin/python3"
NODE = "/usr/bin/node"
LIMITS = ["--wall-time", "300s", "--cpu-time", "300s", "--idle-timeout", "off",
          "--memory", "1GiB", "--pids", "256", "--tmp-size", "512MiB",
          "--output-limit", "64MiB"]

# Modules that need what a jail never has (a terminal, other users, a writable
# /usr, the host's processes) or that take minutes: skipped in both places.
PY_SKIP = {
    "test_asyncio", "test_concurrent_futures", "test_multiprocessing_fork",
    "test_multiprocessing_forkserver", "test_multiprocessing_spawn", "test_capi",
    "test_lib2to3", "test_tools", "test_peg_generator", "test_tkinter", "test_ttk",
    "test_idle", "test_turtle", "test_venv", "test_ensurepip", "test_distutils",
    "test_regrtest", "test_gdb", "test_sqlite3", "test_zipfile64", "test_largefile",
    "test_bigmem", "test_ssl", "test_socketserver", "test_urllib2net", "test_smtpnet",
    "test_timeout", "test_nntplib", "test_imaplib", "test_poplib", "test_ftplib",
    "test_httplib", "test_winreg", "test_winsound", "test_msilib", "test_winconsoleio",
}

NODE_SCRIPTS = {
    "every-builtin-loads": """
        const m = require('module').builtinModules.filter(n => !n.startsWith('_') && n !== 'inspector' && n !== 'trace_events' && n !== 'wasi' && n !== 'test/reporters');
        for (const n of m) require(n);
        console.log(m.length);
    """,
    "fs": """
        const fs = require('fs'), path = require('path'), os = require('os');
        const d = fs.mkdtempSync(path.join(os.tmpdir(), 'x-'));
        fs.writeFileSync(d + '/a', 'hello'); fs.copyFileSync(d + '/a', d + '/b');
        fs.symlinkSync(d + '/a', d + '/l'); fs.renameSync(d + '/b', d + '/c');
        fs.chmodSync(d + '/c', 0o600); fs.utimesSync(d + '/c', 1, 1);
        const w = fs.watch(d); w.close();
        fs.rmSync(d, {recursive: true});
        fs.promises.readFile('/etc/hostname', 'utf8').then(s => console.log(s.trim()));
    """,
    "child-process": """
        const cp = require('child_process');
        console.log(cp.execFileSync('/bin/echo', ['hi']).toString().trim());
        console.log(cp.spawnSync('/bin/sh', ['-c', 'exit 3']).status);
        const c = cp.fork('-e', [], {execArgv: ['-e', 'process.send(42)']});
        c.on('message', m => { console.log(m); c.kill(); });
    """,
    "worker-threads": """
        const { Worker } = require('worker_threads');
        const w = new Worker('require("worker_threads").parentPort.postMessage(6*7)', {eval: true});
        w.on('message', m => { console.log(m); w.terminate(); });
    """,
    "crypto": """
        const c = require('crypto');
        console.log(c.createHash('sha256').update('x').digest('hex').length);
        console.log(c.randomBytes(8).length, c.randomUUID().length);
        const { publicKey, privateKey } = c.generateKeyPairSync('ed25519');
        const sig = c.sign(null, Buffer.from('m'), privateKey);
        console.log(c.verify(null, Buffer.from('m'), publicKey, sig));
        c.scrypt('p', 's', 16, (e, k) => console.log(k.length));
        c.webcrypto.subtle.digest('SHA-1', Buffer.from('x')).then(d => console.log(d.byteLength));
    """,
    "zlib-streams": """
        const z = require('zlib'), { pipeline, Readable, Writable } = require('stream');
        const out = [];
        pipeline(Readable.from(['a'.repeat(10000)]), z.createGzip(), z.createGunzip(),
          new Writable({ write(c, e, cb) { out.push(c); cb(); } }),
          e => console.log(e || Buffer.concat(out).length));
        console.log(z.brotliDecompressSync(z.brotliCompressSync('x')).toString());
    """,
    "http-loopback": """
        const http = require('http');
        const s = http.createServer((q, r) => r.end('pong')).listen(0, '127.0.0.1', () => {
          http.get({host: '127.0.0.1', port: s.address().port}, r => {
            let b = ''; r.on('data', d => b += d); r.on('end', () => { console.log(b); s.close(); });
          });
        });
    """,
    "net-ipv6-unix": """
        const net = require('net'), fs = require('fs');
        const s = net.createServer(c => c.end('six')).listen(0, '::1', () => {
          net.connect(s.address().port, '::1').on('data', d => { console.log(d.toString()); s.close(); });
        });
        const u = net.createServer(c => c.end('unix')).listen('/tmp/sock', () => {
          net.connect('/tmp/sock').on('data', d => { console.log(d.toString()); u.close(); });
        });
    """,
    "dgram": """
        const d = require('dgram').createSocket('udp4');
        d.on('message', m => { console.log(m.toString()); d.close(); });
        d.bind(0, '127.0.0.1', () => d.send('udp', d.address().port, '127.0.0.1'));
    """,
    "dns-os": """
        const os = require('os');
        console.log(Object.keys(os.networkInterfaces()), os.cpus().length > 0, os.totalmem() > 0,
                    os.userInfo().username, os.hostname(), os.loadavg().length);
        require('dns').lookup('localhost', (e, a) => console.log(e ? e.code : a));
    """,
    "timers-events-async": """
        const { setTimeout: sleep } = require('timers/promises');
        const { AsyncLocalStorage } = require('async_hooks');
        const als = new AsyncLocalStorage();
        als.run(7, async () => { await sleep(10); console.log(als.getStore()); });
        const { performance, PerformanceObserver } = require('perf_hooks');
        console.log(performance.now() > 0);
        queueMicrotask(() => console.log('micro'));
        setImmediate(() => console.log('immediate'));
    """,
    "wasm": """
        const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,
          7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]);
        WebAssembly.instantiate(bytes).then(({instance}) => console.log(instance.exports.add(2, 3)));
        const mem = new WebAssembly.Memory({initial: 256, maximum: 4096}); mem.grow(256);
        console.log(mem.buffer.byteLength);
    """,
    "vm-repl-readline": """
        const vm = require('vm'); console.log(vm.runInNewContext('a + 1', {a: 1}));
        const rl = require('readline').createInterface({input: require('fs').createReadStream('/etc/passwd')});
        let n = 0; rl.on('line', () => n++); rl.on('close', () => console.log(n));
        console.log(typeof require('repl').start);
    """,
    "intl-buffer-url": """
        console.log(new Intl.DateTimeFormat('de', {timeZone: 'UTC'}).format(0));
        console.log(Buffer.from('héllo').toString('base64'), new URL('http://a/b?c=d').searchParams.get('c'));
        console.log(new TextDecoder().decode(new TextEncoder().encode('ok')), structuredClone({a: 1}).a);
    """,
    "test-runner": """
        const test = require('node:test'); const assert = require('assert');
        test('adds', () => assert.strictEqual(1 + 1, 2));
    """,
    "cluster": """
        const cluster = require('cluster');
        require('fs').writeFileSync('/tmp/worker.js', 'process.exit(0)');
        cluster.setupPrimary({ exec: '/tmp/worker.js' });
        cluster.fork().on('exit', c => console.log('worker', c));
    """,
    "process-info": """
        console.log(process.getuid(), process.getgid(), process.memoryUsage().rss > 0,
                    process.resourceUsage().maxRSS > 0, process.hrtime.bigint() > 0n,
                    process.cpuUsage().user >= 0, typeof process.report.getReport());
    """,
    "heap-and-gc": """
        const v8 = require('v8'); console.log(v8.getHeapStatistics().total_heap_size > 0);
        const big = []; for (let i = 0; i < 200; i++) big.push(new Array(10000).fill(i));
        console.log(big.length, v8.getHeapSnapshot !== undefined);
    """,
}

TOOLS = [
    "echo hello | tr a-z A-Z", "seq 1 100 | paste -sd+ | bc", "printf '%s\\n' b a c | sort",
    "printf '%s\\n' a a b | uniq -c", "seq 10 | tail -n 3 | head -n 1", "echo a:b:c | cut -d: -f2",
    "seq 5 | awk '{s+=$1} END {print s}'", "echo hello | sed 's/l/L/g'",
    "echo 'x y' | gawk '{print $2, NF}'", "echo abc | rev", "seq 3 | tac", "wc -c /etc/passwd",
    "md5sum /etc/hostname", "sha256sum /etc/hosts", "base64 /etc/hostname | base64 -d",
    "date -u -d @0 +%Y", "env | sort | head -n 2", "id -u", "whoami", "hostname", "uname -s",
    "nproc", "getconf PAGESIZE", "stat -c %s /etc/hostname", "du -s /etc", "df -h /tmp",
    "ls -la /", "find /usr/bin -name 'ls' -type f", "grep -c root /etc/passwd",
    "grep -rl localhost /etc", "xargs -n1 echo <<< 'a b c'", "mkdir -p /tmp/a/b && rmdir /tmp/a/b /tmp/a",
    "touch /tmp/f && ln -s /tmp/f /tmp/l && readlink /tmp/l", "cp /etc/passwd /tmp/p && cmp /etc/passwd /tmp/p",
    "mv /tmp/p /tmp/q 2>/dev/null || (cp /etc/hosts /tmp/q && mv /tmp/q /tmp/r)",
    "dd if=/dev/zero of=/tmp/z bs=1k count=64 2>/dev/null && ls -s /tmp/z",
    "tar -C /etc -cf /tmp/t.tar hostname hosts && tar -tf /tmp/t.tar",
    "gzip -c /etc/passwd | gunzip | wc -l", "xz -c /etc/passwd | xz -d | wc -l",
    "bzip2 -c /etc/passwd | bunzip2 | wc -l", "split -l 1 /etc/passwd /tmp/s && ls /tmp/s* | wc -l",
    "join <(printf '1 a\\n2 b\\n') <(printf '1 x\\n2 y\\n')", "comm -12 <(seq 3) <(seq 2 4)",
    "diff <(seq 3) <(seq 3) && echo same", "patch --version | head -1", "od -c /etc/hostname",
    "hexdump -C /etc/hostname | head -1", "factor 360", "shuf -i 1-10 -n 3 | wc -l",
    "timeout 1 sleep 0.1 && echo done", "nice -n 5 true && echo nice", "nohup true 2>/dev/null && echo nohup",
    "mktemp -d", "realpath /usr/bin/../bin", "basename /a/b.c .c", "dirname /a/b/c",
    "expr 6 \\* 7", "test -w /tmp && echo writable", "test -w /usr || echo readonly",
    "sleep 0.05", "yes | head -n 2", "fold -w 3 <<< abcdef", "fmt -w 10 /etc/hostname",
    "column -t <<< 'a b\\nccc d'", "numfmt --to=iec 1048576", "tsort <<< 'a b b c'",
    "printf '%05.1f\\n' 3.14159", "pr -2 -t /etc/hostname", "nl /etc/hostname",
    "od -An -N4 -tu4 /dev/urandom | wc -w", "cat /proc/self/status | grep -c Cap",
    "ps -o pid,comm 2>/dev/null | head -n 3 || ls /proc | head", "kill -0 $$ && echo alive",
    "trap 'echo trapped' USR1; kill -USR1 $$", "ulimit -n", "umask", "flock /tmp/lock true && echo locked",
    "awk 'BEGIN { srand(1); print int(rand()*10) >= 0 }'", "gawk 'BEGIN { print strftime(\"%Y\", 0, 1) }'",
    "sed -n '1p;$p' /etc/passwd", "echo a > /tmp/f && sed -i 's/a/b/' /tmp/f && cat /tmp/f", "perl -e 'print 6*7, \"\\n\"'",
    "iconv -f utf-8 -t ascii//TRANSLIT <<< café", "locale 2>/dev/null | head -n 1", "tput -T dumb cols 2>/dev/null || echo 80",
    "script -q -c true /dev/null 2>/dev/null; echo script-$?", "mkfifo /tmp/fifo && ls -l /tmp/fifo | cut -c1",
    "truncate -s 1M /tmp/big && stat -c %s /tmp/big", "sync && echo synced", "touch /tmp/f && chmod 755 /tmp/f && stat -c %a /tmp/f",
    "echo x > /tmp/f && shred -n 1 /tmp/f && echo shredded", "install -m 644 /etc/hostname /tmp/h && cat /tmp/h",
    "cksum /etc/hostname", "b2sum /etc/hostname | cut -c1-8", "tee /tmp/tee <<< teed", "sort -n -r <<< $'2\\n10\\n1'",
    "true | false || echo piped", "python3 -c 'import sqlite3; print(sqlite3.connect(\":memory:\").execute(\"select 1\").fetchone())'",
    "python3 -c 'import ssl, hashlib; print(hashlib.sha1(b\"x\").hexdigest()[:6], ssl.OPENSSL_VERSION[:7])'",
    "python3 -c 'import multiprocessing as m; print(m.Pool(2).map(abs, [-1, -2]))'",
    "python3 -c 'import asyncio; print(asyncio.run(asyncio.sleep(0, result=7)))'",
    "python3 -c 'import ctypes, ctypes.util; print(ctypes.CDLL(ctypes.util.find_library(\"c\")).getpid() > 0)'",
    "python3 -c 'import socket; print(socket.getaddrinfo(\"localhost\", 80)[0][4])'",
    "python3 -c 'import resource, os; print(resource.getrlimit(resource.RLIMIT_NOFILE), os.cpu_count())'",
    "python3 -c 'import subprocess; print(subprocess.run([\"ls\", \"/\"], capture_output=True).returncode)'",
    "python3 -c 'import threading; t = [threading.Thread(target=sum, args=([1],)) for _ in range(50)]; [x.start() for x in t]; [x.join() for x in t]; print(50)'",
    "python3 -c 'import mmap; m = mmap.mmap(-1, 4096); m[0] = 1; print(m[0])'",
    "python3 -c 'import signal, os; signal.signal(signal.SIGUSR1, lambda *a: print(\"sig\")); os.kill(os.getpid(), signal.SIGUSR1)'",
    "python3 -c 'import tempfile, shutil; d = tempfile.mkdtemp(); shutil.rmtree(d); print(\"tmp\")'",
    "python3 -c 'import select; p = select.epoll(); p.close(); print(\"epoll\")'",
    "python3 -c 'import os; r, w = os.pipe(); os.write(w, b\"x\"); print(os.read(r, 1))'",
    "python3 -c 'import uuid, time, random; print(len(str(uuid.uuid4())), time.monotonic() > 0)'",
]


def jailed(g, argv, binds=()):
    cmd = [g, "sandbox", "run", *LIMITS]
    for b in binds:
        cmd += ["--ro-bind", b]
    return cmd + ["--"] + argv


def run(cmd, timeout=600):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
                           cwd="/tmp")
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return 124, "timeout"


def python_items():
    base = "/usr/lib/python3.11/test"
    if not os.path.isdir(base):
        print("python: libpython3.11-testsuite is not installed; skipped", file=sys.stderr)
        return []
    names = sorted(n[:-3] if n.endswith(".py") else n for n in os.listdir(base)
                   if n.startswith("test_") and (n.endswith(".py") or os.path.isdir(f"{base}/{n}")))
    return [(n, [PY, "-m", "test", "-u", "none", "-q", n])
            for n in names if n not in PY_SKIP]


def node_items(tmp):
    items = []
    for name, code in NODE_SCRIPTS.items():
        items.append((name, [NODE, "-e", code]))
    return items


def tool_items():
    return [(t, ["/bin/bash", "-c", t]) for t in TOOLS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gauntlet", default="target/release/gauntlet")
    ap.add_argument("--only", default="python,node,tools")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    g = os.path.abspath(a.gauntlet)
    tmp = tempfile.mkdtemp()
    corpora = {"python": python_items, "node": lambda: node_items(tmp), "tools": tool_items}
    broken = 0
    for corpus in a.only.split(","):
        items = corpora[corpus]()
        works_inside = skipped = 0

        def one(item):
            name, argv = item
            rc, out = run(jailed(g, argv))
            if rc == 0:
                return name, "inside", ""
            rc_out, out_out = run(argv)
            return name, ("both" if rc_out != 0 else "outside"), out

        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            for name, verdict, out in pool.map(one, items):
                if verdict == "inside":
                    works_inside += 1
                elif verdict == "both":
                    skipped += 1
                else:
                    broken += 1
                    tail = "\n    ".join(out.strip().splitlines()[-6:])
                    print(f"FAILS INSIDE ONLY  {corpus}: {name}\n    {tail}")
        print(f"{corpus}: {len(items)} programs, {works_inside} work in the sandbox, "
              f"{skipped} fail outside it too (not counted), "
              f"{len(items) - works_inside - skipped} fail only inside", flush=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
