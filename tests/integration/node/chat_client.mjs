// Drives the chat contract with the stock socket.io-client, as the plan's frontend would.
// Usage: node chat_client.mjs BASE_URL STREAM_ID TOKEN   -> prints a JSON summary.
import { io } from "socket.io-client";

const [base, streamId, token] = process.argv.slice(2);
const log = { viewer: [], sender: [], acks: {} };
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (pred, ms = 8000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out; log: " + JSON.stringify(log));
    await wait(20);
  }
};
const record = (socket, into) => socket.onAny((event, data) => into.push({ event, data }));
const seen = (into, event, pred = () => true) => into.some((f) => f.event === event && pred(f.data));

const viewer = io(base, { transports: ["websocket"], reconnection: false });
const sender = io(base, { transports: ["websocket"], auth: { token }, reconnection: false });
record(viewer, log.viewer);
record(sender, log.sender);
await until(() => viewer.connected && sender.connected);

log.acks.viewerJoin = await viewer.emitWithAck("chat:join", { streamId });
log.acks.senderJoin = await sender.emitWithAck("chat:join", { streamId });
await until(() => seen(log.viewer, "chat:user-joined"));
log.acks.anonymousSend = await viewer.emitWithAck("chat:send", { content: "not allowed" });
log.acks.send = await sender.emitWithAck("chat:send", { content: "hello from node" });
await until(() => seen(log.viewer, "chat:message", (m) => m.content === "hello from node"));
log.acks.tooLong = await sender.emitWithAck("chat:send", { content: "x".repeat(501) });
sender.emit("chat:typing");
await until(() => seen(log.viewer, "chat:typing"));

const headers = { authorization: `Bearer ${token}` };
await fetch(`${base}/api/messages/${log.acks.send.id}`, { method: "DELETE", headers });
await until(() => seen(log.viewer, "chat:deleted"));
await fetch(`${base}/api/streams/${streamId}/end`, { method: "POST", headers });
await until(() => seen(log.viewer, "stream:status", (s) => s.status === "ENDING"));
log.acks.afterEnd = await sender.emitWithAck("chat:send", { content: "too late" });
sender.emit("chat:leave");
await until(() => seen(log.viewer, "chat:user-left"));

viewer.close();
sender.close();
console.log(JSON.stringify(log));
process.exit(0);
