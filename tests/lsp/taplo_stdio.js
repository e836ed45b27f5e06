// Runs the Taplo language server of npm's @taplo/lsp (the server Even Better TOML runs, compiled
// to WebAssembly) over stdio with LSP's Content-Length framing, so a test can speak to it as an
// editor does. @taplo/lsp ships only this library, no executable; NODE_PATH must reach it.
//
// The environment is the one Even Better TOML gives the server (editors/vscode/src/server.ts in
// tamasfe/taplo): `findConfigFile` looks for `.taplo.toml`, then `taplo.toml`, in the workspace
// root, which is how a `.taplo.toml` reaches the editor; `glob` lists matching files (the
// extension uses fast-glob; this host walks the file system itself, to need nothing but Node).
"use strict";
const fs = require("fs");
const path = require("path");
const { TaploLsp } = require("@taplo/lsp");

function findConfigFile(from) {
  for (const name of [".taplo.toml", "taplo.toml"]) {
    const candidate = path.join(from, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

// `**` matches any run of path segments, `*` and `?` stay within one segment.
function globPattern(pattern) {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

function glob(pattern) {
  const absolute = path.resolve(pattern);
  const wild = absolute.search(/[*?]/);
  const root = wild < 0 ? absolute : absolute.slice(0, absolute.lastIndexOf("/", wild) + 1);
  const matcher = globPattern(absolute);
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (matcher.test(full)) found.push(full);
    }
  };
  if (wild < 0) return fs.existsSync(absolute) ? [absolute] : [];
  walk(root);
  return found;
}

function send(message) {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

const environment = {
  cwd: () => process.cwd(),
  envVar: (name) => process.env[name],
  envVars: () => Object.entries(process.env).filter((pair) => pair[1] !== undefined),
  findConfigFile,
  glob,
  isAbsolute: (p) => path.isAbsolute(p),
  now: () => new Date(),
  readFile: async (path) => fs.readFileSync(path),
  writeFile: async (path, bytes) => fs.writeFileSync(path, bytes),
  stderr: process.stderr,
  stdErrAtty: () => false,
  stdin: process.stdin,
  stdout: process.stdout,
  urlToFilePath: (url) => decodeURIComponent(url.replace(/^file:\/\//, "")),
};

TaploLsp.initialize(environment, { onMessage: send }).then((lsp) => {
  let buffered = Buffer.alloc(0);
  process.stdin.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const match = /Content-Length: *(\d+)/i.exec(buffered.subarray(0, end).toString("ascii"));
      const length = Number(match[1]);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length).toString("utf8");
      buffered = buffered.subarray(end + 4 + length);
      const message = JSON.parse(body);
      if (message.method === "exit") process.exit(0);
      lsp.send(message);
    }
  });
});
