// The SharedWorker shared by all of the dashboard's tabs: one stream (js/stream.js) for all of
// them. A module worker (app.js starts it with type "module"), so it imports the stream code.
import { HeraldStream } from "./js/stream.js";

const ports = new Set();
let stream = null;
const broadcast = (msg) => { for (const p of ports) p.postMessage(msg); };

// There is no "port closed" event: tabs say "bye" on pagehide and "hello" when they come back.
self.onconnect = (e) => {
  const port = e.ports[0];
  port.onmessage = (m) => {
    const cmd = m.data && m.data.cmd;
    if (cmd === "hello") {
      if (typeof EventSource !== "function") return port.postMessage({ kind: "unsupported" });
      ports.add(port);
      if (!stream) {
        stream = new HeraldStream(broadcast);
        port.postMessage(stream.stateMsg());
        stream.resync(); // broadcasts the first snapshot to this port
      } else {
        port.postMessage(stream.stateMsg());
        stream.snapshotFor((msg) => port.postMessage(msg));
      }
    } else if (cmd === "bye") {
      ports.delete(port);
    } else if (cmd === "kick" && stream) {
      stream.kick();
    }
  };
};
