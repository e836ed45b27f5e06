// Runs the Taplo language server of npm's @taplo/lsp (the server Even Better TOML runs, compiled
// to WebAssembly) over stdio with LSP's Content-Length framing, so a test can speak to it as an
// editor does. @taplo/lsp ships only this library, no executable; NODE_PATH must reach it.
"use strict";
const fs = require("fs");
const { TaploLsp } = require("@taplo/lsp");

function send(message) {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

const environment = {
  cwd: () => process.cwd(),
  envVar: (name) => process.env[name],
  envVars: () => Object.entries(process.env).filter((pair) => pair[1] !== undefined),
  findConfigFile: () => undefined,
  glob: () => [],
  isAbsolute: (path) => path.startsWith("/"),
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
