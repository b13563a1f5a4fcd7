// The Observatory end to end, its own retriever included: what the headers analyzer is checked against.
// Usage: node observatory_reference.mjs HOST HTTP_PORT HTTPS_PORT   (a port of 0: no such service)
import { retrieve } from "@mdn/mdn-http-observatory/src/retriever/retriever.js";

import { score } from "../observatory/score.mjs";

const [hostname, httpPort, httpsPort] = process.argv.slice(2);
const requests = await retrieve(hostname, { httpPort: Number(httpPort) || 1, httpsPort: Number(httpsPort) || 1 });
process.stdout.write(JSON.stringify(score(requests)));
