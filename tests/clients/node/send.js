// Sends records to a forward server with @fluent-org/logger, then exits 0 once every
// send resolved (acknowledged, with --ack), 1 otherwise.
//   node send.js PORT MODE COUNT [--ack] [--shared-key KEY] [--tag TAG] [--deadline-ms MS]
// MODE: Message | Forward | PackedForward | CompressedPackedForward
"use strict";
const { FluentClient, EventTime } = require("@fluent-org/logger");

async function main() {
  const [port, mode, count, ...flags] = process.argv.slice(2);
  const option = (name) => {
    const at = flags.indexOf(name);
    return at >= 0 ? flags[at + 1] : undefined;
  };
  const sharedKey = option("--shared-key");
  const tag = option("--tag") || "weblogs.node";
  const client = new FluentClient(null, {
    eventMode: mode,
    socket: { host: "127.0.0.1", port: Number(port), timeout: 10000 },
    ack: flags.includes("--ack") ? { ackTimeout: 10000 } : undefined,
    security: sharedKey ? { clientHostname: "node-client", sharedKey } : undefined,
  });
  const sends = [];
  for (let i = 0; i < Number(count); i++) {
    const record = { sessionID: `node-${mode}`, url: `/node/${i}`, status: 200 };
    // An EventTime of 1700000000.123456789 s, then one second later per record.
    sends.push(client.emit(tag, record, new EventTime(1700000000 + i, 123456789)));
  }
  await Promise.all(sends);
  await client.shutdown();
}

const deadlineAt = process.argv.indexOf("--deadline-ms");
const deadline = deadlineAt > 0 ? Number(process.argv[deadlineAt + 1]) : 30000;
const timer = setTimeout(() => {
  console.error(`not every send resolved within ${deadline} ms`);
  process.exit(2);
}, deadline);
main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (error) => {
    console.error(String(error && error.stack ? error.stack : error));
    process.exit(1);
  }
);
